// A quiz on a phone, one question per screen: Back / Next change the address's #step-… (the CSS shows
// that step) without reloading; autosave.js has already saved what she chose. Without this script the
// same buttons post the form, which saves on the server and comes back at the next step.
(function () {
  var form = document.getElementById("attempt-form");
  if (!form || !window.matchMedia) return;
  var phone = window.matchMedia("(max-width: 767.98px)");
  function go(step) {
    var target = document.getElementById("step-" + step);
    if (!target) return false;
    if (location.hash === "#step-" + step) target.scrollIntoView(); else location.hash = "step-" + step;
    var first = target.querySelector("input:not([type=hidden]), select, textarea, button");
    if (first && first.focus) first.focus({preventScroll: true});
    return true;
  }
  form.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-goto]") : null;
    if (button && phone.matches && go(button.getAttribute("data-goto"))) event.preventDefault();
  });
  // Enter in a text field moves on to the next question, as "Next" does.
  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !phone.matches || event.target.tagName !== "INPUT") return;
    var step = event.target.closest(".quiz-step");
    var next = step && step.querySelector(".step-nav [data-goto]:last-child");
    if (next) { event.preventDefault(); go(next.getAttribute("data-goto")); }
  });
})();
