#!/usr/bin/env bash
# Builds the documentation site (mdBook) into target/book and tests it: the generated
# references, the gallery's figures, zero broken links, every page opened in headless
# Chromium, and the commands of README.md, the quick start and the tutorials run as
# written. scripts/test.sh runs it; run it alone after scripts/setup.sh --test.
#
#   scripts/docs.sh            build and test
#   scripts/docs.sh --build    build only (then open target/book/index.html)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/volley ] || cargo build --release --quiet
volley=target/release/volley

# mdBook, pinned, built once into target/tools (about a minute).
mdbook=target/tools/bin/mdbook
mdbook_version=0.5.4
if ! "$mdbook" --version 2>/dev/null | grep -qx "mdbook v$mdbook_version"; then
  echo "volley docs: installing mdbook $mdbook_version into target/tools"
  cargo install --quiet --locked --no-default-features --features search --version "$mdbook_version" --root target/tools mdbook
fi

# The two references come from the program itself (not committed).
"$volley" reference models >book/src/reference/models.md
"$volley" reference cli >book/src/reference/cli.md
VOLLEY=$volley scripts/gallery.sh book/src/figures >/dev/null
"$mdbook" build book --dest-dir target/book
echo "volley docs: site in target/book/index.html"
[ "${1:-}" = --build ] && exit 0

python=${VOLLEY_PYTHON:-target/pyvenv/bin/python}
"$python" scripts/check_site.py target/book
"$python" scripts/doc_commands.py README.md book/src/quick-start.md book/src/tutorials/*.md
