// Field-level saves on the story pages (story bible, a character's story fields).
//
// Each field is a fragment (templates/story/field.html) with a form that htmx posts on
// change and on submit; Ctrl/Cmd+S submits the field being edited. The answer is the
// field again: 200 saved, 409 someone else saved it first (their text shown beside the
// writer's, which stays in the box), 400 bad input: all three are swapped in.
// A field with unsaved typing is marked busy (data-story-busy), so story.js holds live
// refreshes of it until it is saved: the writer's text is never replaced under them.
(function () {
  "use strict";

  function liveOf(el) {
    return el && el.closest ? el.closest("[data-story-live]") : null;
  }

  document.addEventListener("input", function (event) {
    const live = liveOf(event.target);
    if (live) live.dataset.storyBusy = "true";
  });

  document.addEventListener("keydown", function (event) {
    if (!(event.ctrlKey || event.metaKey) || event.key.toLowerCase() !== "s") return;
    const form = event.target.closest && event.target.closest("form[data-story-save]");
    if (!form) return;
    event.preventDefault();
    form.requestSubmit();
  });

  // The story room's socket is open (tests and styles can tell). Only that socket: a
  // story page has others (the story drafts panel's).
  function storyRoom(event) {
    const elt = event.target;
    const url = elt && elt.getAttribute ? elt.getAttribute("ws-connect") || "" : "";
    return /\/story$/.test(url);
  }
  document.body.addEventListener("htmx:wsOpen", function (event) {
    if (storyRoom(event)) document.body.dataset.storyRoom = "open";
  });
  document.body.addEventListener("htmx:wsClose", function (event) {
    if (storyRoom(event)) document.body.dataset.storyRoom = "closed";
  });

  // Swap the story forms' answers for a conflict (409) or bad input (400) too.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr && event.detail.xhr.status;
    if (status !== 409 && status !== 400) return;
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!elt || !liveOf(elt) || !elt.closest("[data-story-page]")) return;
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  });
})();
