// Latchkey's pages work without this script; it adds what only a script
// can: a "Show" button on password fields, and "Go back" links that go
// back in the browser's history when there is one.
// Its words come from the page, in the page's language (<body data-…>).
"use strict";
var words = document.body.dataset;
document.querySelectorAll("input[type=password]").forEach(function (input) {
  var wrap = document.createElement("div");
  wrap.className = "password";
  input.parentNode.insertBefore(wrap, input);
  wrap.appendChild(input);
  var button = document.createElement("button");
  button.type = "button";
  button.className = "reveal";
  button.textContent = words.show || "Show";
  button.setAttribute("aria-controls", input.id);
  button.setAttribute("aria-pressed", "false");
  button.setAttribute("aria-label", words.showLabel || "Show password");
  button.addEventListener("click", function () {
    var show = input.type === "password";
    input.type = show ? "text" : "password";
    button.textContent = show ? words.hide || "Hide" : words.show || "Show";
    button.setAttribute("aria-pressed", String(show));
    input.focus();
  });
  wrap.appendChild(button);
});
document.querySelectorAll("a[data-back]").forEach(function (a) {
  if (window.history.length > 1) {
    a.addEventListener("click", function (e) {
      e.preventDefault();
      window.history.back();
    });
  }
});
