/* The "send code" buttons of django-huyi-sms: count down until another code may be asked for.
   The pages work without this script; with it the wait is shown on the button itself. */
(function () {
  "use strict";
  function start(button) {
    var left = parseInt(button.getAttribute("data-huyi-countdown"), 10);
    if (!(left > 0)) { return; }
    var label = button.getAttribute("data-huyi-label") || button.textContent;
    var waitLabel = button.getAttribute("data-huyi-wait-label") || "%(seconds)s";
    var field = button.closest(".huyi-field");
    var text = field && field.querySelector(".huyi-countdown-text");
    if (text) { text.hidden = true; }
    button.disabled = true;
    (function tick() {
      if (left <= 0) {
        button.disabled = false;
        button.textContent = label;
        return;
      }
      button.textContent = waitLabel.replace("%(seconds)s", String(left));
      left -= 1;
      window.setTimeout(tick, 1000);
    })();
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-huyi-countdown]"), start);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
