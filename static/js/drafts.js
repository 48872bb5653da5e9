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

// Feedback on drafts (rate, tag, comment, pick, rank, record an edit): htmx forms in each
// card. What follows only keeps them pleasant while cards re-render live.
(function () {
  "use strict";
  if (!document.getElementById("drafts-panel")) return;

  // A refused action on a draft (feedback, accept, retry) answers 4xx with a message
  // aimed at a message slot; htmx 2 drops 4xx bodies unless told to swap them.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    const elt = event.detail.elt;
    if (status >= 400 && status < 500 && elt && elt.closest && elt.closest(".passage-feedback, .passage-actions")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // A card re-rendered by someone else's action must not eat what this user is typing:
  // keep typed text, open/closed panels, the comment's selected span, and the focus.
  function stash(root, skip) {
    const state = { text: {}, open: {}, anchors: {}, focus: null };
    root.querySelectorAll("textarea[id]").forEach(function (t) {
      if (t.value !== t.defaultValue && !(skip && skip.contains(t))) state.text[t.id] = t.value;
    });
    root.querySelectorAll("details[id]").forEach(function (d) { state.open[d.id] = d.open; });
    root.querySelectorAll("form.fb-comment[id]").forEach(function (f) {
      if (f.elements.anchor_start.value && !(skip && skip.contains(f))) {
        state.anchors[f.id] = anchorOfForm(f);
      }
    });
    const active = document.activeElement;
    if (active && active.id && root.contains(active) && !(skip && skip.contains(active))) {
      state.focus = { id: active.id, start: active.selectionStart, end: active.selectionEnd };
    }
    return state;
  }

  function restore(state) {
    for (const [id, value] of Object.entries(state.text)) {
      const t = document.getElementById(id);
      if (t) t.value = value;
    }
    for (const [id, open] of Object.entries(state.open)) {
      const d = document.getElementById(id);
      if (d && d.open !== open) d.open = open;
    }
    for (const [id, anchor] of Object.entries(state.anchors)) {
      const f = document.getElementById(id);
      if (f) setAnchor(f, anchor);
    }
    if (state.focus) {
      const el = document.getElementById(state.focus.id);
      if (el) {
        el.focus();
        if (state.focus.start != null && el.setSelectionRange) {
          el.setSelectionRange(state.focus.start, state.focus.end);
        }
      }
    }
  }

  document.body.addEventListener("htmx:oobBeforeSwap", function (event) {
    const target = event.detail.target;
    if (!target.closest || !target.closest(".passage, .passage-feedback")) return;
    const state = stash(target, null);
    setTimeout(function () { restore(state); }, 0);
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    const target = event.detail.target;
    if (!target || !target.classList || !target.classList.contains("passage-feedback")) return;
    if (!event.detail.shouldSwap) return;
    // The form that was sent starts afresh; the others keep what was typed.
    const state = stash(target, event.detail.requestConfig && event.detail.requestConfig.elt);
    setTimeout(function () { restore(state); }, 0);
  });

  // Comment on a span: the words selected in a finished draft's text become the anchor of
  // the next comment on that card, in characters (code points) as the server counts them.
  function anchorOfForm(form) {
    return {
      start: form.elements.anchor_start.value,
      end: form.elements.anchor_end.value,
      text: form.elements.anchor_text.value,
    };
  }

  function setAnchor(form, anchor) {
    form.elements.anchor_start.value = anchor ? anchor.start : "";
    form.elements.anchor_end.value = anchor ? anchor.end : "";
    form.elements.anchor_text.value = anchor ? anchor.text : "";
    const line = form.querySelector(".fb-anchor");
    if (line) {
      line.hidden = !anchor;
      line.querySelector("[data-anchor-quote]").textContent = anchor
        ? anchor.text.length > 80 ? anchor.text.slice(0, 79) + "…" : anchor.text
        : "";
    }
  }

  function onSelect() {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return;
    const range = sel.getRangeAt(0);
    const start = range.startContainer.nodeType === 1 ? range.startContainer : range.startContainer.parentElement;
    const box = start && start.closest(".passage-text");
    if (!box || !box.contains(range.endContainer)) return;
    const card = box.closest(".passage");
    const form = card && document.getElementById(card.id + "-comment-form");
    if (!form) return;
    const before = document.createRange();
    before.selectNodeContents(box);
    before.setEnd(range.startContainer, range.startOffset);
    const quote = range.toString();
    const from = Array.from(before.toString()).length;
    setAnchor(form, { start: String(from), end: String(from + Array.from(quote).length), text: quote });
  }
  document.addEventListener("mouseup", onSelect);
  document.addEventListener("keyup", function (event) { if (event.shiftKey) onSelect(); });

  document.body.addEventListener("click", function (event) {
    const clear = event.target.closest && event.target.closest("[data-anchor-clear]");
    if (clear) setAnchor(clear.closest("form"), null);
  });
  // After a comment is sent, its anchor is spent (the form re-renders empty).
})();
