"""Checks the built documentation site (scripts/docs.sh runs it after `mdbook build`).

1. Links: every href and src of every page that points inside the site must name a file
   that exists and, with a #fragment, an element of that page with that id. Links off the
   site (http, https, mailto) are counted, not fetched: CI has no network.
2. Pages in a browser: every page is opened in headless Chromium (Selenium, Debian's
   chromedriver) from a local HTTP server; it must load with no error in the browser's
   console, show its title, and every image on it must have loaded (naturalWidth > 0).

Usage: check_site.py BOOK_DIR          (exit 1, naming each fault, if any)
"""
import functools
import http.server
import os
import sys
import threading
import urllib.parse
from html.parser import HTMLParser


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            # <base> sets where relative links start (404.html's is the site's root): not a link.
            if a.get(key) and tag != "base":
                self.links.append((tag, key, a[key]))


def parse(path):
    p = Page()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    return p


def pages(root):
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".html"):
                yield os.path.join(d, f)


def check_links(root):
    faults, parsed, external, checked = [], {}, 0, 0
    for page in sorted(pages(root)):
        for tag, key, url in parse(page).links:
            u = urllib.parse.urlsplit(url)
            if u.scheme or url.startswith("//"):
                external += 1
                continue
            checked += 1
            target = os.path.normpath(os.path.join(os.path.dirname(page), urllib.parse.unquote(u.path))) if u.path else page
            if os.path.isdir(target):
                target = os.path.join(target, "index.html")
            rel = os.path.relpath(page, root)
            if not os.path.exists(target):
                faults.append(f"{rel}: <{tag} {key}={url!r}>: no file {os.path.relpath(target, root)}")
                continue
            if u.fragment and target.endswith(".html"):
                if target not in parsed:
                    parsed[target] = parse(target).ids
                if urllib.parse.unquote(u.fragment) not in parsed[target]:
                    faults.append(f"{rel}: <{tag} {key}={url!r}>: no id {u.fragment!r} in {os.path.relpath(target, root)}")
    print(f"check_site: {checked} links inside the site checked, {external} to other sites not fetched")
    return faults


def serve(root):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    # Root in CI needs --no-sandbox; the rest keeps Chromium off the (absent) network.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        o.add_argument(flag)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def check_in_browser(root):
    faults = []
    server = serve(root)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    driver = browser()
    try:
        listed = sorted(os.path.relpath(p, root) for p in pages(root))
        for rel in listed:
            driver.get(base + rel)
            state = driver.execute_script("return document.readyState")
            title = driver.title
            broken = driver.execute_script(
                "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'))")
            # A page without an icon link makes Chromium ask for /favicon.ico: not a link of ours.
            errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE" and "/favicon.ico " not in e["message"]]
            heading = driver.execute_script("const h = document.querySelector('main h1'); return h ? h.textContent : ''")
            if state != "complete":
                faults.append(f"{rel}: not loaded ({state})")
            # toc.html is mdBook's sidebar for browsers without JavaScript, shown in a frame.
            if not title and rel != "toc.html":
                faults.append(f"{rel}: no title")
            if rel not in ("404.html", "print.html", "toc.html") and not heading.strip():
                faults.append(f"{rel}: no heading in its main part")
            faults += [f"{rel}: image {src!r} did not load" for src in broken]
            faults += [f"{rel}: browser console: {e}" for e in errors]
        print(f"check_site: {len(listed)} pages opened in headless Chromium")
    finally:
        driver.quit()
        server.shutdown()
    return faults


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: check_site.py BOOK_DIR (a built mdbook site)")
    root = os.path.abspath(sys.argv[1])
    faults = check_links(root) + check_in_browser(root)
    for f in faults:
        print("check_site:", f, file=sys.stderr)
    if faults:
        sys.exit(f"check_site: {len(faults)} faults in {root}")
    print("check_site: no broken link, image or page")


if __name__ == "__main__":
    main()
