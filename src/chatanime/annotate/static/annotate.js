// Keyboard shortcuts for the rating form. The form works without this file; it only adds
// 1-5 to rate the highlighted metric, up/down (k/j) to move, a for the rubric, c for the
// comment and Enter to save.
(function () {
  "use strict";
  var form = document.getElementById("rating-form");
  if (!form) { return; }
  var metrics = Array.prototype.slice.call(form.querySelectorAll("fieldset.metric"));
  var missing = document.getElementById("missing");
  var current = 0;

  function rated(m) { return m.querySelector("input:checked") !== null; }
  function complete() { return metrics.every(rated); }

  function select(i) {
    current = Math.max(0, Math.min(metrics.length - 1, i));
    metrics.forEach(function (m, j) { m.classList.toggle("current", j === current); });
    metrics[current].scrollIntoView({ block: "nearest" });
  }

  function firstUnrated() {
    for (var i = 0; i < metrics.length; i++) { if (!rated(metrics[i])) { return i; } }
    return -1;
  }

  function rate(value) {
    var input = metrics[current].querySelector('input[value="' + value + '"]');
    input.checked = true;
    missing.classList.add("hidden");
    if (current < metrics.length - 1) { select(current + 1); }
  }

  function save() {
    if (complete()) { form.requestSubmit(); return; }
    missing.classList.remove("hidden");
    select(firstUnrated());
  }

  metrics.forEach(function (m, i) {
    m.addEventListener("click", function () { select(i); });
    m.addEventListener("change", function () {
      missing.classList.add("hidden");
      if (i === current && i < metrics.length - 1) { select(i + 1); }
    });
  });
  form.addEventListener("submit", function (e) {
    if (!complete()) { e.preventDefault(); save(); }
  });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var target = e.target;
    if (target.tagName === "TEXTAREA") {
      if (e.key === "Escape") { target.blur(); }
      return;
    }
    var handled = true;
    if (/^[1-5]$/.test(e.key)) { rate(e.key); }
    else if (e.key === "ArrowDown" || e.key === "j") { select(current + 1); }
    else if (e.key === "ArrowUp" || e.key === "k") { select(current - 1); }
    else if (e.key === "a" || e.key === "?") {
      var details = metrics[current].querySelector("details");
      details.open = !details.open;
    }
    else if (e.key === "c") { form.querySelector("textarea").focus(); }
    else if (e.key === "Enter" && target.tagName !== "A" && target.tagName !== "BUTTON") { save(); }
    else { handled = false; }
    if (handled) { e.preventDefault(); }
  });

  var start = firstUnrated();
  select(start === -1 ? 0 : start);
})();
