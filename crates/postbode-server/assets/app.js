// The dashboard's one script. It only improves pages that work without it:
// - <time datetime="..."> is shown in the browser's time zone; its title keeps UTC;
// - <button data-copy="ID"> copies the text of element ID, data-copy-text its own value;
// - htmx may swap in refusals (422, 409) as well as answers: they are pages too.
(function () {
  "use strict";
  var parts = new Intl.DateTimeFormat("en-GB", {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23", timeZoneName: "short"
  });

  function local(at) {
    var p = {};
    parts.formatToParts(at).forEach(function (part) { p[part.type] = part.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second +
      " " + p.timeZoneName;
  }

  function localise(root) {
    root.querySelectorAll("time[datetime]").forEach(function (time) {
      var at = new Date(time.getAttribute("datetime"));
      if (!isNaN(at.getTime())) time.textContent = local(at);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("htmx:load", function (event) { localise(event.detail.elt); });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 409 || status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-text]");
    if (!button || !navigator.clipboard) return;
    var text = button.getAttribute("data-copy-text");
    if (text === null) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) return;
      text = source.textContent.trim();
    }
    navigator.clipboard.writeText(text).then(function () {
      button.textContent = "Copied";
    });
  });
})();
