// The drafts panel: keeps streamed text in order, heals gaps, reports the connection.
//
// Each token delta arrives as <span data-seq="N"> appended to #passage-ID-text (htmx's ws
// extension swaps it out of band). The container's data-seq is the last number applied:
// a duplicate is dropped; a gap drops the span and asks the server for a catch-up (the
// generation worker then sends the whole text so far, which replaces the container).
(function () {
  "use strict";
  const panel = document.getElementById("drafts-panel");
  if (!panel) return;
  const list = document.getElementById("drafts-list");
  const status = document.getElementById("room-status");
  let lastCatchUp = 0;
  let everClosed = false;

  function catchUp() {
    const now = Date.now();
    if (now - lastCatchUp < 1000) return;
    lastCatchUp = now;
    const form = document.getElementById("catchup-form");
    if (form && window.htmx) htmx.trigger(form, "submit");
  }

  new MutationObserver(function (mutations) {
    for (const m of mutations) {
      for (const node of m.addedNodes) {
        if (node.nodeType !== 1 || node.tagName !== "SPAN" || !node.dataset.seq) continue;
        const box = node.parentElement;
        if (!box || !box.classList.contains("passage-text")) continue;
        const seq = Number(node.dataset.seq);
        const last = Number(box.dataset.seq || 0);
        if (seq <= last) {
          node.remove(); // already have it (e.g. after a catch-up)
        } else if (seq === last + 1) {
          box.dataset.seq = String(seq);
        } else {
          node.remove(); // a gap: fetch the text so far instead
          catchUp();
        }
      }
    }
  }).observe(list, { childList: true, subtree: true });

  document.body.addEventListener("htmx:wsOpen", function () {
    status.textContent = "Live";
    if (everClosed) {
      // Missed events are not replayed: re-fetch the panel from the server.
      document.body.dispatchEvent(new CustomEvent("cowrite:refresh-drafts"));
    }
  });
  document.body.addEventListener("htmx:wsClose", function () {
    everClosed = true;
    status.textContent = "Disconnected from the drafts room — reconnecting…";
  });

  // A rewrite sends the editor's selection, in characters (code points) as the server
  // counts them, not the UTF-16 units the browser uses.
  document.body.addEventListener("htmx:wsConfigSend", function (event) {
    const params = event.detail.parameters;
    if (params.action !== "draft_request") return;
    const editor = window.cowriteEditor;
    if (editor && editor.view) {
      const sel = editor.view.state.selection.main;
      const text = editor.view.state.doc.toString();
      params.selection_start = String(Array.from(text.slice(0, sel.from)).length);
      params.selection_end = String(Array.from(text.slice(0, sel.to)).length);
    }
    delete params.HEADERS; // not needed: the socket is already authenticated
  });

  // Ctrl/Cmd+Enter asks for a draft.
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      const form = document.getElementById("draft-form");
      if (form) {
        event.preventDefault();
        htmx.trigger(form, "submit");
      }
    }
  });
})();
