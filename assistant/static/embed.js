/* Clinks guidance assistant: one script tag adds a chat button that opens the chat in a panel.
   <script src="https://HOST/embed.js" defer></script>
   Everything it loads comes from the same host as this script: no third parties. */
(function () {
  "use strict";
  if (window.__clinksAssistant) return;
  window.__clinksAssistant = true;
  var script = document.currentScript;
  var origin = script ? new URL(script.src, location.href).origin : "";
  var LABEL = "__ASSISTANT_TITLE__"; // the deployer's title (assistant.yaml), filled in by the server

  var style = document.createElement("style");
  style.textContent = [
    ".clinks-ask-launcher{position:fixed;right:16px;bottom:16px;z-index:2147483000;background:#1d3557;color:#fff;",
    "border:2px solid #fff;border-radius:24px;padding:12px 18px;font:600 16px/1.2 system-ui,sans-serif;cursor:pointer;",
    "box-shadow:0 2px 8px rgba(0,0,0,.3)}",
    ".clinks-ask-launcher:focus-visible,.clinks-ask-close:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}",
    ".clinks-ask-panel{position:fixed;right:16px;bottom:76px;width:420px;height:min(640px,calc(100vh - 96px));",
    "z-index:2147483001;background:#fff;border:1px solid #555;border-radius:8px;box-shadow:0 4px 16px rgba(0,0,0,.35);",
    "display:flex;flex-direction:column;overflow:hidden}",
    ".clinks-ask-panel[hidden]{display:none}",
    ".clinks-ask-bar{display:flex;align-items:center;justify-content:space-between;background:#1d3557;color:#fff;",
    "padding:8px 12px;font:600 16px/1.2 system-ui,sans-serif}",
    ".clinks-ask-bar h2{font-size:16px;margin:0}",
    ".clinks-ask-close{background:transparent;color:#fff;border:1px solid #fff;border-radius:4px;padding:6px 10px;",
    "font:600 15px system-ui,sans-serif;cursor:pointer}",
    ".clinks-ask-panel iframe{flex:1;border:0;width:100%}",
    "@media (max-width:600px){.clinks-ask-panel{inset:0;width:100%;height:100%;border-radius:0;right:0;bottom:0}}"
  ].join("");
  document.head.appendChild(style);

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "clinks-ask-launcher";
  launcher.textContent = LABEL;
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "clinks-ask-panel");

  var panel = document.createElement("div");
  panel.id = "clinks-ask-panel";
  panel.className = "clinks-ask-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", LABEL);
  panel.hidden = true;

  var bar = document.createElement("div");
  bar.className = "clinks-ask-bar";
  var title = document.createElement("h2");
  title.textContent = LABEL;
  var close = document.createElement("button");
  close.type = "button";
  close.className = "clinks-ask-close";
  close.textContent = "Close";
  close.setAttribute("aria-label", "Close the chat");
  bar.appendChild(title);
  bar.appendChild(close);
  panel.appendChild(bar);

  var frame = null;
  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = origin + "/chat/";
      frame.title = "Clinks guidance assistant chat";
      panel.appendChild(frame);
    }
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    close.focus();
  }
  function shut() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }
  launcher.addEventListener("click", function () { panel.hidden ? open() : shut(); });
  close.addEventListener("click", shut);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !panel.hidden) shut();
  });
  window.addEventListener("message", function (e) {
    // The chat inside the iframe reports Escape presses it catches, so Escape works there too.
    if (e.origin === origin && e.data === "clinks-assistant:escape" && !panel.hidden) shut();
  });
  document.body.appendChild(panel);
  document.body.appendChild(launcher);
})();
