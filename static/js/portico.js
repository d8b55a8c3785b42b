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
// A refused htmx request (4xx/5xx that is not swapped, e.g. 400, 403, 409, 500) must not fail
// silently: show the server's own (translated) message beside the form, keeping what was typed.
document.addEventListener("htmx:responseError", function (evt) {
  var elt = evt.detail.elt;
  var form = (elt && elt.closest && elt.closest("form")) || elt;
  if (!form || !form.insertAdjacentElement) return;
  var text = "";
  try {
    var doc = new DOMParser().parseFromString(evt.detail.xhr.responseText || "", "text/html");
    var p = doc.querySelector("#error p");
    text = p ? p.textContent.trim() : "";
  } catch (e) { /* keep the fallback */ }
  if (!text) text = (evt.detail.xhr.status || "") + " " + (evt.detail.xhr.statusText || "");
  var note = form.querySelector(".request-error");
  if (!note) {
    note = document.createElement("p");
    note.className = "field-error request-error";
    note.setAttribute("role", "alert");
    form.insertAdjacentElement("afterbegin", note);
  }
  note.textContent = text;
});
