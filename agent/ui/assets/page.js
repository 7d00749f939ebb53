// The status page's live updates: follow /events (server-sent events) and swap each section whose HTML changed.
// The page is complete without this script; it only keeps it fresh. EventSource reconnects by itself.
(function () {
  "use strict";
  if (typeof EventSource === "undefined") return;
  var live = document.getElementById("live");
  var source = new EventSource("/events");
  source.addEventListener("sections", function (e) {
    var data = JSON.parse(e.data);
    var swapped = 0;
    data.sections.forEach(function (html) {
      var tpl = document.createElement("template");
      tpl.innerHTML = html;
      var next = tpl.content.firstElementChild;
      if (!next || !next.id) return;
      var current = document.getElementById(next.id);
      if (current && current.outerHTML !== next.outerHTML) {
        current.replaceWith(next);
        swapped++;
      }
    });
    if (live) live.textContent = "Live · updated " + data.at.slice(11, 19) + " UTC" + (swapped ? " (" + swapped + " section" + (swapped === 1 ? "" : "s") + " changed)" : "");
    document.documentElement.dataset.updates = String(Number(document.documentElement.dataset.updates || 0) + 1);
  });
  source.addEventListener("error", function () {
    if (live) live.textContent = "Connection to the agent lost; retrying…";
  });
})();
