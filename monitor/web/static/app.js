// Keyboard shortcuts of the dashboard: no inline script anywhere (the Content-Security-Policy forbids it).
// Queue: j / k move between rows, Enter opens, x selects. Detection: a button with data-key="c" is pressed by c.
(function () {
  "use strict";
  function typing(event) {
    var tag = (event.target && event.target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.target.isContentEditable;
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.row")); }
  function current() { return document.querySelector("tr.row.current"); }
  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var index = all.indexOf(current());
    var next = all[Math.min(Math.max(index + step, 0), all.length - 1)];
    all.forEach(function (row) { row.classList.remove("current"); });
    next.classList.add("current");
    next.scrollIntoView({block: "nearest"});
  }
  document.addEventListener("keydown", function (event) {
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var row = current();
    if (event.key === "j") { move(1); }
    else if (event.key === "k") { move(-1); }
    else if (event.key === "Enter" && row) { window.location.href = row.getAttribute("data-href"); }
    else if (event.key === "x" && row) {
      var box = row.querySelector("input[type=checkbox]");
      if (box) { box.checked = !box.checked; }
    } else {
      var button = document.querySelector("[data-key='" + event.key + "']");
      if (button) { button.click(); } else { return; }
    }
    event.preventDefault();
  });
})();
