/* The "send code" buttons of django-huyi-sms: count down until another code may be asked for, and
   show "receive a voice call instead" once the SMS has had its time to arrive.
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
  // Shown when data-huyi-reveal-in seconds have passed (the element is a status region: it is announced).
  function reveal(element) {
    var left = parseInt(element.getAttribute("data-huyi-reveal-in"), 10);
    window.setTimeout(function () { element.hidden = false; }, left > 0 ? left * 1000 : 0);
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-huyi-countdown]"), start);
    Array.prototype.forEach.call(document.querySelectorAll("[data-huyi-reveal-in]"), reveal);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
