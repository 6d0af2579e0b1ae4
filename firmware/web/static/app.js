// The web page's only script: live refresh of the status and calls
// pages, and a confirmation before destructive forms. No build step.
"use strict";
(function () {
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      ev.preventDefault();
    }
  });
  var every = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  var live = document.getElementById("live");
  if (!every || !live) {
    return;
  }
  function refresh() {
    // Leave the page alone while someone types into it.
    var a = document.activeElement;
    if (a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "SELECT")) {
      return;
    }
    fetch(window.location.pathname, { credentials: "same-origin", redirect: "manual" })
      .then(function (res) {
        if (res.type === "opaqueredirect" || res.status !== 200) {
          throw new Error("status " + res.status);
        }
        return res.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        if (fresh) {
          live.innerHTML = fresh.innerHTML;
        }
        document.body.classList.remove("stale");
      })
      .catch(function () {
        document.body.classList.add("stale");
      });
  }
  window.setInterval(refresh, every * 1000);
})();
