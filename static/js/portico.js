// Portico's own script: small progressive enhancements on top of htmx. Pages work without it.
(function () {
  "use strict";
  // Upload progress: forms marked data-upload-progress show their <progress> while htmx sends.
  document.addEventListener("htmx:xhr:progress", function (evt) {
    var form = evt.target.closest && evt.target.closest("form[data-upload-progress]");
    if (!form) return;
    var bar = form.querySelector("progress.upload-progress");
    if (!bar || !evt.detail.lengthComputable) return;
    bar.hidden = false;
    bar.value = Math.round((evt.detail.loaded / evt.detail.total) * 100);
  });
  // Move focus to the heading of content swapped into <main> for keyboard and screen-reader users.
  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail.target && evt.detail.target.id === "reply-box") {
      var err = evt.detail.target.querySelector("[aria-invalid=true]");
      if (err) err.focus();
    }
  });
})();
// Tell the server the browser's time zone (dates are then shown in it from the next page on).
(function () {
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && document.cookie.indexOf("portico_tz=" + tz) === -1) {
      document.cookie = "portico_tz=" + tz + "; path=/; max-age=31536000; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
    }
  } catch (e) { /* no Intl: dates stay in UTC */ }
})();
