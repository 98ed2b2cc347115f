"""Drop duplicate <script> entries from each page.

sphinx-thebe 0.3.1 registers its inline configuration (`const THEBE_JS_URL = ...`) in a way that
Sphinx 7.4 emits twice; the second `const` declaration is a SyntaxError in the browser.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # Compare what the tag would say, not the priority it was registered with
        # (an inline script's filename is None or "" depending on how it was added).
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", None) or "", tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique



def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
