"""A Sphinx extension that fixes two JavaScript errors of the Jupyter Book 1 site.

The browser tests (tests/test_site_browser.py) found both on every page:

* sphinx-thebe adds its inline configuration (``const THEBE_JS_URL = ...``) once each time
  Sphinx reads documents, so a page can carry it twice and the browser stops with
  "Identifier 'THEBE_JS_URL' has already been declared". Here every page keeps one copy of
  each script.
* On a first visit the theme's light/dark mode is empty and the theme logs "Got invalid
  theme mode". Here ``html_context["default_mode"]`` is "auto" (follow the reader's
  system) unless the book sets it.
"""

from __future__ import annotations


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


def setup(app):
    app.connect("config-inited", _default_mode)
    app.connect("html-page-context", _unique_scripts, priority=100)  # before handlers that end the event
    return {"parallel_read_safe": True, "parallel_write_safe": True}
