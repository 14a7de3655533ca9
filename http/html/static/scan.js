// Camera scanning for the point page: the only feature that needs
// JavaScript. The QR decoder (jsQR, Apache-2.0) is served from this site
// and loaded only when the operator starts the camera.
(function () {
  "use strict";
  var box = document.querySelector("[data-scanner]");
  if (!box || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  var form = box.closest("form");
  var code = form.querySelector("textarea[name=code]");
  var start = box.querySelector("[data-scan-start]");
  var stop = box.querySelector("[data-scan-stop]");
  var video = box.querySelector("[data-scan-video]");
  var status = box.querySelector("[data-scan-status]");
  var stream = null, canvas = document.createElement("canvas"), ctx = canvas.getContext("2d", { willReadFrequently: true });
  box.hidden = false;

  function loadDecoder(done) {
    if (window.jsQR) return done();
    var s = document.createElement("script");
    s.src = box.getAttribute("data-jsqr");
    s.onload = done;
    s.onerror = function () { status.textContent = box.getAttribute("data-msg-denied"); };
    document.head.appendChild(s);
  }
  function end() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null; video.hidden = true; stop.hidden = true; start.hidden = false;
  }
  function tick() {
    if (!stream) return;
    if (video.readyState === video.HAVE_ENOUGH_DATA) {
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      var found = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
      if (found && found.data) {
        code.value = found.data;
        status.textContent = box.getAttribute("data-msg-found");
        end();
        form.submit();
        return;
      }
    }
    requestAnimationFrame(tick);
  }
  start.addEventListener("click", function () {
    loadDecoder(function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
        stream = s; video.srcObject = s; video.hidden = false; stop.hidden = false; start.hidden = true;
        status.textContent = box.getAttribute("data-msg-looking");
        video.play(); requestAnimationFrame(tick);
      }).catch(function () { status.textContent = box.getAttribute("data-msg-denied"); end(); });
    });
  });
  stop.addEventListener("click", end);
})();
