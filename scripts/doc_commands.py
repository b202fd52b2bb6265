"""Runs the commands of the documentation as written, so that they cannot go stale
(scripts/docs.sh runs it on README.md, the quick start and the tutorials).

In each Markdown file, in order:
- a block whose info string names a file (```toml file=first.toml, ```python
  file=sonata-example/build.py) is written to that file (from the repository's root), as
  the reader is told to save it;
- every ```sh block is run, all the blocks of one file in one bash process (so that an
  `export` or `cd` carries on, as in the reader's shell), from the repository's root,
  with `set -euo pipefail`; a failing command fails the file, naming its block;
- every ```console block is a transcript: each line starting with "$ " is run, and what
  it prints (stdout and stderr) must be the lines below it, exactly;
- a ```toml block holding a whole model ([simulation] and [[population]]) is run with
  `volley run` into a scratch directory; fragments of a model are not models and are
  counted, not run.

One command is not run: `scripts/test.sh`, the command that runs this script. In its
place the script checks that `.ci/run` runs exactly it.

Usage: doc_commands.py FILE.md...        (exit 1 on the first file that fails)
"""
import os
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(\S*)(.*)$")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blocks(path):
    """(info, options, first line number, text) of each fenced block."""
    out, current = [], None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = FENCE.match(line.rstrip("\n"))
            if current is None and m:
                current = (m.group(1), m.group(2).strip(), n + 1, [])
            elif current is not None and line.rstrip("\n") == "```":
                out.append((current[0], current[1], current[2], "".join(current[3])))
                current = None
            elif current is not None:
                current[3].append(line)
    if current is not None:
        sys.exit(f"{path}:{current[2] - 1}: a code block is never closed")
    return out


def the_test_command(line):
    return line.split("#")[0].strip() == "scripts/test.sh"


def shell_script(path, sh_blocks):
    lines = ["set -euo pipefail"]
    for _, _, start, text in sh_blocks:
        lines.append(f"echo '--- {os.path.relpath(path, ROOT)}:{start}' >&2")
        for line in text.splitlines():
            if the_test_command(line):
                lines.append("grep -qx 'exec scripts/test.sh' .ci/run  # scripts/test.sh runs this; .ci/run must run it")
            else:
                lines.append(line)
    return "\n".join(lines) + "\n"


def whole_model(text):
    return re.search(r"^\[simulation\]", text, re.M) and re.search(r"^\[\[population\]\]", text, re.M)


LINK = re.compile(r"\]\(([^)\s]+)\)")


def check_links(path):
    """Every relative link of the page (outside code blocks) names a file that exists."""
    fence, n_links = False, 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.startswith("```"):
                fence = not fence
            if fence:
                continue
            for target in LINK.findall(line):
                if re.match(r"[a-z]+:", target) or target.startswith("#"):
                    continue
                n_links += 1
                if not os.path.exists(os.path.join(os.path.dirname(path), target.split("#")[0])):
                    sys.exit(f"doc_commands: {path}:{n}: a link to {target}, which does not exist")
    return n_links


def run_file(path, volley, env, plain_env):
    links = check_links(path)
    found = blocks(path)
    for info, options, start, text in found:
        m = re.match(r"file=(\S+)", options)
        if m:
            os.makedirs(os.path.dirname(os.path.join(ROOT, m.group(1))), exist_ok=True)
            with open(os.path.join(ROOT, m.group(1)), "w", encoding="utf-8") as f:
                f.write(text)
    sh = [b for b in found if b[0] == "sh"]
    if sh:
        # A page that puts volley on PATH itself (the quick start, README) runs without it
        # there, so that its own way is what is tested; the others follow the quick start.
        own = any("export PATH" in text for _, _, _, text in sh)
        r = subprocess.run(["bash", "-c", shell_script(path, sh)], cwd=ROOT, env=plain_env if own else env, capture_output=True, text=True)
        if r.returncode != 0:
            last = [l for l in r.stderr.splitlines() if l.startswith("--- ")]
            where = last[-1][4:] if last else path
            sys.exit(f"doc_commands: the block at {where} failed (exit {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    transcripts = 0
    for info, _, start, text in (b for b in found if b[0] == "console"):
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                sys.exit(f"doc_commands: {path}:{start + i}: a transcript line that no command printed: {lines[i]!r}")
            command, expected, i = lines[i][2:], [], i + 1
            while i < len(lines) and not lines[i].startswith("$ "):
                expected.append(lines[i].rstrip())
                i += 1
            r = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True)
            got = [l.rstrip() for l in (r.stdout + r.stderr).splitlines()]
            if got != expected:
                sys.exit(f"doc_commands: {path}:{start}: `{command}` printed\n" + "\n".join(got) + "\nwhere the page shows\n" + "\n".join(expected))
            transcripts += 1
    models = fragments = 0
    for info, options, start, text in (b for b in found if b[0] == "toml"):
        if not whole_model(text):
            fragments += 1
            continue
        with tempfile.TemporaryDirectory() as scratch:
            model = os.path.join(scratch, "model.toml")
            with open(model, "w", encoding="utf-8") as f:
                f.write(text)
            r = subprocess.run([volley, "run", model, "--out", os.path.join(scratch, "out"), "--quiet"], cwd=ROOT, env=env,
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"doc_commands: {path}:{start}: the model in this block does not run:\n{r.stderr}")
        models += 1
    print(f"doc_commands: {os.path.relpath(path, ROOT)}: {links} links checked, {len(sh)} command blocks run, {transcripts} transcripts matched, "
          f"{models} models run ({fragments} fragments of models not run)")


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: doc_commands.py FILE.md...")
    volley = os.path.join(ROOT, "target", "release", "volley")
    plain_env = dict(os.environ)
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(volley) + os.pathsep + env["PATH"]
    for path in sys.argv[1:]:
        run_file(os.path.abspath(path), volley, env, plain_env)


if __name__ == "__main__":
    main()
