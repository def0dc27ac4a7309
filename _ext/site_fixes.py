"""A Sphinx extension that fixes two JavaScript errors of the Jupyter Book 1 site, and
says in words whether a notebook ran on the execution-status page.

The browser tests (tests/test_site_browser.py) found both on every page:

* sphinx-thebe adds its inline configuration (``const THEBE_JS_URL = ...``) once each time
  Sphinx reads documents, so a page can carry it twice and the browser stops with
  "Identifier 'THEBE_JS_URL' has already been declared". Here every page keeps one copy of
  each script.
* On a first visit the theme's light/dark mode is empty and the theme logs "Got invalid
  theme mode". Here ``html_context["default_mode"]`` is "auto" (follow the reader's
  system) unless the book sets it.
* The execution-status table marks each notebook only with an emoji (✅ or ❌), which
  shows as an empty box where no emoji font is installed (the screenshots of the browser
  tests showed this). Here the status also says "ran" or "failed".

It also mends what the accessibility checker axe-core found on the built pages
(tests/test_site_browser.py):

* the bibliography is a ``role="list"`` whose entries carry the deprecated role
  ``doc-biblioentry``, so screen readers find a list without items (axe: critical); here
  every entry is a ``listitem``;
* the book's title at the top of the sidebar lies outside every landmark, so a reader who
  moves by landmarks skips it (axe: moderate); here the sidebar is a navigation landmark;
* tables printed by pandas have an empty header cell above the row labels (axe: minor);
  here it is an ordinary empty cell.
"""

from __future__ import annotations

import re
from pathlib import Path

#: (pattern, replacement) applied to every HTML page the build writes.
ACCESSIBLE_HTML = [
    (re.compile(r'role="doc-biblioentry"'), 'role="listitem"'),
    (re.compile(r'<div id="pst-primary-sidebar"(?![^>]*\brole=)'),
     '<div id="pst-primary-sidebar" role="navigation" aria-label="Book"'),
    (re.compile(r"<th></th>"), "<td></td>"),
]


def _unique_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        # The copies differ only in how they say "no file": "" or None.
        key = (getattr(script, "filename", script) or None,
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept


def _default_mode(app, config):
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context


def _status_in_words():
    try:
        from myst_nb.ext import execution_tables
    except ImportError:                   # another myst-nb layout: keep its own status column
        return
    execution_tables._key2transform["succeeded"] = lambda ok: "✅ ran" if ok is True else "❌ failed"


def make_accessible(html: str) -> str:
    """The page with the mends of ACCESSIBLE_HTML (applying them twice changes nothing)."""
    for pattern, replacement in ACCESSIBLE_HTML:
        html = pattern.sub(replacement, html)
    return html


def _accessible_pages(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        mended = make_accessible(text)
        if mended != text:
            page.write_text(mended, encoding="utf-8")


def setup(app):
    _status_in_words()
    app.connect("config-inited", _default_mode)
    app.connect("html-page-context", _unique_scripts, priority=100)  # before handlers that end the event
    app.connect("build-finished", _accessible_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
