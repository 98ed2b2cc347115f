#!/bin/bash
# Fetch the two scripts the static site needs to render saved ipywidgets state, from the npm
# registry, into book/_static/ (not committed). myst-nb would otherwise load them from public
# CDNs, and a reader offline, or CI, would see only the widgets' text fallback.
# Versions: html-manager 1.0.x is the ipywidgets 8 line and bundles the standard controls.
set -euo pipefail
HTML_MANAGER=1.0.15
REQUIREJS=2.3.7
dest=book/_static
[ -s "$dest/embed-amd.js" ] && [ -n "$(ls "$dest"/*.woff2 2>/dev/null)" ] && [ -s "$dest/require.js" ] && grep -q "$HTML_MANAGER" "$dest/.widget-js-version" 2>/dev/null && exit 0
command -v npm >/dev/null || { echo "npm is needed to fetch the widget scripts (Debian: apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@jupyter-widgets/html-manager@$HTML_MANAGER" "requirejs@$REQUIREJS" >/dev/null)
mkdir -p "$dest" "$work/hm" "$work/rq"
tar -xzf "$work"/jupyter-widgets-html-manager-*.tgz -C "$work/hm"
tar -xzf "$work"/requirejs-*.tgz -C "$work/rq"
cp "$work/hm/package/dist/embed-amd.js" "$dest/embed-amd.js"
# Its icon fonts (font-awesome), loaded from window.__jupyter_widgets_assets_path__ (widget-assets.js).
cp "$work"/hm/package/dist/*.{woff,woff2,ttf,eot,svg} "$dest/"
cp "$work/rq/package/require.js" "$dest/require.js"
echo "$HTML_MANAGER $REQUIREJS" > "$dest/.widget-js-version"
echo "widget scripts: $dest/embed-amd.js (html-manager $HTML_MANAGER), $dest/require.js (requirejs $REQUIREJS)"
