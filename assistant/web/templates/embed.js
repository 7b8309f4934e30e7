/* Clinks guidance assistant: one script tag adds a round chat button that opens the chat in a dialog.
     <script src="https://HOST/embed.js" defer
             data-title="Ask about probation commissioning" data-greeting="Hello!"
             data-colour="#1d3557" data-side="right" data-position="main"></script>
   All optional. data-position: where the button sits in the page's tab order: "main" (the start of
   the page's <main>, just after its navigation; the default), "start" or "end" of the page, or a
   CSS selector of an element to put it at the start of. data-side: the corner, "right" or "left".
   The chat follows the page's language when it is Welsh (<html lang="cy">); otherwise the
   deployer's choice. Everything it loads comes from the same host as this script: no third
   parties; its files are named by their content, so the browser keeps them between pages. */
(function () {
  "use strict";
  if (window.__clinksAssistant) return;
  window.__clinksAssistant = true;
  var script = document.currentScript;
  var origin = script ? new URL(script.src, location.href).origin : "";
  var CONFIG = __ASSISTANT_CONFIG__; // the deployer's profile (assistant.yaml), filled in by the server

  function place(widget) {
    var where = (script && script.getAttribute("data-position")) || "main";
    var target = null;
    if (where === "start") target = document.body;
    else if (where === "end") return document.body.appendChild(widget);
    else {
      try { target = document.querySelector(where === "main" ? "main, [role=main]" : where); } catch (e) { target = null; }
    }
    if (!target) return document.body.appendChild(widget);
    target.insertBefore(widget, target.firstChild);
  }

  function start() {
    var widget = document.createElement("clinks-chat");
    widget.setAttribute("widget", "");
    widget.setAttribute("data-config", JSON.stringify(CONFIG));
    ["data-title", "data-greeting", "data-colour", "data-side"].forEach(function (name) {
      var value = script && script.getAttribute(name);
      if (value) widget.setAttribute(name, value); // shown as text only, never as HTML
    });
    place(widget);
    var loader = document.createElement("script");
    loader.src = origin + "/static/chat.js?v=__VERSION__";
    loader.async = true;
    document.head.appendChild(loader);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
