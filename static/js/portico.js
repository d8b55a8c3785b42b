// Portico's own script: small progressive enhancements on top of htmx. Pages work without it.
(function () {
  "use strict";
  // Mark the page as scripted: CSS hides what only the script-less page needs (.no-js, the
  // language switcher's button) and shows .js-only.
  document.documentElement.classList.add("js");
  // The language switcher applies the language as soon as one is chosen (its button is for
  // pages without JavaScript; the hint beside the select says the page reloads).
  document.addEventListener("change", function (evt) {
    var sel = evt.target;
    if (!sel || sel.id !== "language-select") return;
    var form = sel.form;
    if (form && form.hasAttribute("data-autosubmit")) {
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    }
  });
  // Upload progress: forms marked data-upload-progress show their <progress> while htmx sends.
  document.addEventListener("htmx:xhr:progress", function (evt) {
    var form = evt.target.closest && evt.target.closest("form[data-upload-progress]");
    if (!form) return;
    var bar = form.querySelector("progress.upload-progress");
    if (!bar || !evt.detail.lengthComputable) return;
    bar.hidden = false;
    bar.value = Math.round((evt.detail.loaded / evt.detail.total) * 100);
  });
  // Keyboard focus after in-place swaps. htmx itself puts focus back on an element with the same
  // id in the new content; where that element is gone or cannot take focus (a link inside the
  // closed View menu, a pagination link that no longer exists, a reply box that changed), focus
  // goes to the nearest sensible control instead of dropping to <body>.
  var lastTrigger = null;
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail.elt;
    lastTrigger = elt && elt.id ? elt.id : null;
  });
  function lost() {
    var a = document.activeElement;
    return !a || a === document.body || !document.contains(a) || a.offsetParent === null && a !== document.body;
  }
  function focusFirst(ids) {
    for (var i = 0; i < ids.length; i++) {
      var el = document.getElementById(ids[i]);
      if (el && el.offsetParent !== null) {
        el.focus();
        if (document.activeElement === el) return true;
      }
    }
    return false;
  }
  function restoreFocus(targetId) {
    // htmx refocuses an element of the new content with the focused element's id: after a
    // send that can be the new Send button (it depends on whether the old one was still
    // disabled at swap time), which is no place to leave the writer.
    var sendKept = targetId === "reply-box" && document.activeElement && document.activeElement.id === "reply-send";
    if (!lost() && !sendKept) return;
    if (targetId === "ticket-list") {
      var prefer = [];
      if (lastTrigger === "view-org" || lastTrigger === "view-mine") prefer.push("view-menu");
      if (lastTrigger) prefer.push(lastTrigger);
      focusFirst(prefer.concat(["next-page", "prev-page", "view-menu", "q"]));
      return;
    }
    if (targetId === "reply-box") {
      var box = document.getElementById("reply-box");
      var invalid = box && box.querySelector("[aria-invalid=true]");
      if (invalid) { invalid.focus(); return; }
      focusFirst(["reply-body", "unsent-body", "closed-notice"]);
    }
  }
  document.addEventListener("htmx:afterSettle", function (evt) {
    var t = evt.detail.target;
    // With outerHTML the target is the replaced element; its id names the new one.
    restoreFocus(t && t.id);
  });
  // A live update that closes (or reopens) the ticket replaces the reply box: a reply typed but
  // not sent is carried over, into the new box or into a read-only copy beside the notice.
  var carried = null;
  document.addEventListener("htmx:oobBeforeSwap", function (evt) {
    if (!evt.detail.target || evt.detail.target.id !== "reply-box") return;
    var old = document.getElementById("reply-body") || document.getElementById("unsent-body");
    var text = old ? old.value : "";
    var hadFocus = !!old && document.activeElement === old;
    carried = { hadFocus: hadFocus || (document.activeElement && evt.detail.target.contains(document.activeElement)) };
    if (!text) return;
    var frag = evt.detail.fragment;
    var box = frag.querySelector("#reply-body");
    if (box) { box.value = text; box.textContent = text; return; }
    var copy = frag.querySelector("#unsent-body");
    var wrap = frag.querySelector("#unsent");
    if (copy && wrap) { copy.textContent = text; wrap.hidden = false; }
  });
  document.addEventListener("htmx:oobAfterSwap", function (evt) {
    if (!evt.detail.target || evt.detail.target.id !== "reply-box" || !carried) return;
    var hadFocus = carried.hadFocus;
    carried = null;
    if (hadFocus || lost()) restoreFocus("reply-box");
  });
  // Escape closes an open drop-down menu (the View menu) and returns focus to its summary.
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape") return;
    var open = document.querySelector("details.dropdown[open]");
    if (!open) return;
    open.open = false;
    var summary = open.querySelector("summary");
    if (summary) summary.focus();
    evt.preventDefault();
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
