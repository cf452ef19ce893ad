// Locrit's chat widget for any web site:
//   <script src="https://your-locrit-server/widget.js" data-locrit="Name" async></script>
// adds a button in the corner that opens the Locrit's public chat in a frame. Optional:
// data-label (the button's text), data-position="left".
(function () {
  "use strict";
  var script = document.currentScript;
  var name = script && script.getAttribute("data-locrit");
  if (!name) return;
  var origin = new URL(script.src, location.href).origin;
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";
  var label = script.getAttribute("data-label") || "Chat";

  function css(el, styles) {
    for (var key in styles) el.style[key] = styles[key];
    return el;
  }

  var button = css(document.createElement("button"), {
    position: "fixed", bottom: "20px", zIndex: "2147483646", border: "none", borderRadius: "999px",
    padding: "12px 18px", background: "#4f46e5", color: "#fff", font: "600 15px/1 system-ui, sans-serif",
    cursor: "pointer", boxShadow: "0 4px 14px rgba(0,0,0,.25)",
  });
  button.style[side] = "20px";
  button.type = "button";
  button.className = "locrit-widget-button";
  button.textContent = "💬 " + label;
  button.setAttribute("aria-expanded", "false");

  var frame = null;
  button.addEventListener("click", function () {
    if (!frame) {
      frame = css(document.createElement("iframe"), {
        position: "fixed", bottom: "76px", width: "min(380px, calc(100vw - 40px))", height: "min(560px, calc(100vh - 100px))",
        border: "1px solid #dcdde6", borderRadius: "12px", background: "#fff", zIndex: "2147483646",
        boxShadow: "0 8px 30px rgba(0,0,0,.25)",
      });
      frame.style[side] = "20px";
      frame.className = "locrit-widget-frame";
      frame.title = label + " — " + name;
      frame.src = origin + "/p/" + encodeURIComponent(name) + "/embed";
      document.body.appendChild(frame);
    } else {
      frame.hidden = !frame.hidden;
    }
    button.setAttribute("aria-expanded", String(!frame.hidden));
  });

  function mount() {
    document.body.appendChild(button);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
