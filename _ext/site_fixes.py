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


def _status_in_words():
    try:
        from myst_nb.ext import execution_tables
    except ImportError:                   # another myst-nb layout: keep its own status column
        return
    execution_tables._key2transform["succeeded"] = lambda ok: "✅ ran" if ok is True else "❌ failed"


def setup(app):
    _status_in_words()
    app.connect("config-inited", _default_mode)
    app.connect("html-page-context", _unique_scripts, priority=100)  # before handlers that end the event
    return {"parallel_read_safe": True, "parallel_write_safe": True}
