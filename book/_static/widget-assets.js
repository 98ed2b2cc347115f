// The widget manager (embed-amd.js) loads its icon fonts relative to the RequireJS address of
// whichever of its modules asks first, or to a path it is given. Point all of them at the site's
// _static folder, where scripts/fetch_widget_js.sh puts the fonts, so no page reaches for a CDN.
// (RequireJS reads a global `require` object defined before it loads as its configuration.)
var netlabStatic = new URL("./", document.currentScript.src).href;
window.__jupyter_widgets_assets_path__ = netlabStatic;
var require = { paths: { "@jupyter-widgets/html-manager/dist": netlabStatic.replace(/\/$/, "") } };
["base", "base7", "controls", "controls7", "html-manager"].forEach(function (name) {
  require.paths["@jupyter-widgets/" + name] = netlabStatic + name;
});
