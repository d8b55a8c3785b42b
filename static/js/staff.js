// The staff console's script: the inbox's split view and its keyboard shortcuts, and the
// confirmation dialogs of destructive actions. Every page works without it (plain links and
// forms; the confirmation pages are real pages).
(function () {
  "use strict";
  var wide = window.matchMedia("(min-width: 64rem)");

  // Split view. A ticket link in the list swaps the detail pane (hx-get, hx-push-url) on wide
  // screens; on narrower ones the list and the ticket are separate pages, so the link navigates.
  document.addEventListener("htmx:confirm", function (evt) {
    var elt = evt.detail.elt;
    if (!elt || !elt.matches || !elt.matches("a.inbox-open") || wide.matches) return;
    evt.preventDefault();
    window.location.assign(elt.href);
  });
  // Marks the row of ticket id as the current one.
  function markCurrent(id) {
    var links = document.querySelectorAll("#inbox-list a.inbox-open");
    for (var i = 0; i < links.length; i++) {
      var on = links[i].getAttribute("data-ticket") === id;
      var row = links[i].closest("tr");
      if (on) links[i].setAttribute("aria-current", "page"); else links[i].removeAttribute("aria-current");
      if (row) row.classList.toggle("is-current", on);
    }
  }
  function shownTicket() {
    var t = document.querySelector("#inbox-detail #inbox-ticket");
    return t ? t.getAttribute("data-ticket") : null;
  }
  document.addEventListener("htmx:afterSettle", function (evt) {
    var t = evt.detail.target;
    if (!t) return;
    if (t.id === "inbox-detail") {
      var split = document.getElementById("inbox-split");
      if (split) split.classList.add("has-ticket");
      markCurrent(shownTicket());
      var subject = document.getElementById("ticket-subject");
      var announcer = document.getElementById("announcer");
      if (subject && announcer) announcer.textContent = subject.textContent;
    } else if (t.id === "inbox-list") {
      markCurrent(shownTicket()); // a new page of the list keeps the open ticket marked
    }
  });

  // Keyboard shortcuts (inbox pages only; listed in the ? dialog). Off while typing in a field,
  // with a modifier held, or while a dialog is open.
  function typing(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }
  function visible(el) { return !!el && el.offsetParent !== null; }
  function focusField(id) {
    var el = document.getElementById(id);
    if (!visible(el)) return false;
    el.scrollIntoView({ block: "center" });
    el.focus();
    return true;
  }
  function step(delta) {
    var links = Array.prototype.slice.call(document.querySelectorAll("#inbox-list a.inbox-open"));
    if (links.length === 0) return false;
    var cur = -1;
    for (var i = 0; i < links.length; i++) if (links[i].getAttribute("aria-current")) cur = i;
    var next = cur < 0 ? 0 : cur + delta;
    if (next < 0 || next >= links.length) return false;
    var link = links[next];
    if (visible(link)) link.focus();
    link.click();
    return true;
  }
  function openHelp() {
    var d = document.getElementById("shortcuts-dialog");
    if (!d || d.open || typeof d.showModal !== "function") return false;
    d.showModal();
    return true;
  }
  var actions = {
    j: function () { return step(1); },
    k: function () { return step(-1); },
    r: function () { return focusField("compose-body"); },
    c: function () { return focusField("stage"); },
    a: function () { return focusField("owner"); },
    "/": function () {
      if (!focusField("f-q")) return false;
      document.getElementById("f-q").select();
      return true;
    },
    "?": openHelp
  };
  document.addEventListener("keydown", function (evt) {
    if (evt.defaultPrevented || evt.ctrlKey || evt.metaKey || evt.altKey || evt.isComposing) return;
    if (!document.getElementById("inbox-split")) return;
    if (typing(evt.target) || document.querySelector("dialog[open]")) return;
    var act = actions[evt.key];
    if (act && act()) evt.preventDefault();
  });
  // The ? button opens the same dialog; closing it returns focus to where it was.
  var opener = null;
  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest && evt.target.closest("#shortcuts-open");
    if (!btn) return;
    opener = btn;
    openHelp();
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "?" && !document.querySelector("dialog[open]")) opener = document.activeElement;
  }, true);
  document.addEventListener("close", function (evt) {
    if (evt.target && evt.target.id === "shortcuts-dialog" && opener && document.contains(opener)) {
      opener.focus();
      opener = null;
    }
  }, true);
})();
