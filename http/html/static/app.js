// Small enhancements; every page works without them.
(function () {
  "use strict";
  var offline = document.getElementById("offline");
  function showNet() { if (offline) offline.hidden = navigator.onLine; }
  window.addEventListener("online", showNet);
  window.addEventListener("offline", showNet);
  document.addEventListener("DOMContentLoaded", function () {
    showNet();
    // A form sent while offline would only fail; say so instead.
    document.addEventListener("submit", function (e) {
      if (!navigator.onLine) { e.preventDefault(); showNet(); return; }
      var b = e.target.querySelector("[data-once]");
      // The request id makes a double submit harmless; this just spares
      // the operator a second wait.
      if (b) { setTimeout(function () { b.disabled = true; }, 0); }
    });
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () { window.print(); });
    });
    document.querySelectorAll("[data-back]").forEach(function (b) {
      if (history.length > 1) { b.hidden = false; b.addEventListener("click", function () { history.back(); }); }
    });
    // Duplicate candidates as the registrar types: the same check as the
    // form's button, sent in the background, its answer put in place.
    document.querySelectorAll("form[data-dedup]").forEach(function (f) {
      var live = document.getElementById("dup-live"), timer = null;
      if (!live || !window.fetch || !window.DOMParser) return;
      f.addEventListener("input", function (e) {
        if (!/^m\d+_(given|family|birth|nid)$/.test(e.target.name || "")) return;
        clearTimeout(timer);
        timer = setTimeout(function () {
          var body = new URLSearchParams(new FormData(f));
          body.set("action", "check");
          // The form has buttons named "action", which shadow f.action.
          fetch(f.getAttribute("action"), { method: "POST", body: body, credentials: "same-origin" })
            .then(function (r) { return r.text(); })
            .then(function (html) {
              var doc = new DOMParser().parseFromString(html, "text/html");
              var found = doc.getElementById("dup-live");
              if (found) live.innerHTML = found.innerHTML;
            })
            .catch(function () {});
        }, 700);
      });
    });
    // Live validation: say what is wrong as soon as a field is left.
    document.querySelectorAll("form[data-live]").forEach(function (f) {
      f.addEventListener("blur", function (e) {
        var el = e.target;
        if (!el.willValidate) return;
        var ok = el.checkValidity();
        el.setAttribute("aria-invalid", ok ? "false" : "true");
        var msg = document.getElementById(el.id + "-msg");
        if (msg) msg.textContent = ok ? "" : el.validationMessage;
      }, true);
    });
  });
})();
