// The drafts panel: keeps streamed text in order, heals gaps, reports the connection.
//
// Each token delta arrives as <span data-seq="N"> appended to #passage-ID-text (htmx's ws
// extension swaps it out of band). The container's data-seq is the last number applied:
// a duplicate is dropped; a gap drops the span and asks the server for a catch-up (the
// generation worker then sends the whole text so far, which replaces the container).
//
// The panel may come after the page loaded and be replaced by another scene's panel (the
// whole-script view's side column shows the focused scene's: templates/script.html). So
// the listeners below are registered once, on document/body, and look the panel's parts up
// when they run (one panel at a time on a page: its ids are unique); what belongs to one
// panel (the token-order watch on its list, its socket's history) is set up by init(panel)
// at load and on htmx:load for each new #drafts-panel. The panel's socket is the scene
// room (ws-connect): htmx's ws extension opens it when the panel comes and closes it when
// the panel goes.
(function () {
  "use strict";
  const byId = (id) => document.getElementById(id);
  const ready = new WeakSet(); // panels set up by init()
  const closedOnce = new WeakSet(); // panels whose socket closed at least once
  let lastCatchUp = 0;

  function catchUp() {
    const now = Date.now();
    if (now - lastCatchUp < 1000) return;
    lastCatchUp = now;
    const form = byId("catchup-form");
    if (form && window.htmx) htmx.trigger(form, "submit");
  }

  // "No drafts for this scene yet." shows only while the list has no request: the first
  // cards arrive live (swapped in out of band, on every collaborator's page) above the note,
  // which then hides, and stays hidden while any card is there (a refresh re-renders both).
  function syncEmptyNote(list) {
    const note = byId("no-drafts");
    if (note) note.hidden = list.querySelector(".draft-group") !== null;
  }

  function watchTokens(list) {
    new MutationObserver(function (mutations) {
      if (mutations.some((m) => m.target === list)) syncEmptyNote(list);
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
  }

  /** Set up one panel (once): the page's at load, each new one as htmx brings it. */
  function init(panel) {
    if (ready.has(panel)) return;
    ready.add(panel);
    const list = byId("drafts-list");
    if (list) {
      syncEmptyNote(list);
      watchTokens(list);
    }
    showOptions();
  }

  // The panel's own socket only (a page may have others: the story room).
  function panelSocket(event) {
    const elt = event.target;
    return elt && elt.id === "drafts-panel" && elt.isConnected ? elt : null;
  }

  // The scene room also tells the scene page's history and notes lists to refresh; a
  // page without them (the whole-script view's side column) drops those messages rather
  // than have htmx report a missing out-of-band target.
  document.body.addEventListener("htmx:wsBeforeMessage", function (event) {
    const message = (event.detail && event.detail.message) || "";
    if (typeof message !== "string") return;
    const m = /^<div id="(history-refresh|notes-refresh)" hx-swap-oob/.exec(message);
    if (m && !byId(m[1])) event.preventDefault();
  });

  document.body.addEventListener("htmx:wsOpen", function (event) {
    const panel = panelSocket(event);
    if (!panel) return;
    const status = byId("room-status");
    if (status) status.textContent = "Live";
    // Missed events are not replayed: re-fetch the panel from the server after a
    // reconnect, and on the first open too when the page showed a draft still running
    // (it may have finished between the page's render and this socket's subscription).
    const live = panel.querySelector(".passage.status-queued, .passage.status-streaming");
    if (closedOnce.has(panel) || live) {
      document.body.dispatchEvent(new CustomEvent("cowrite:refresh-drafts"));
    }
  });
  document.body.addEventListener("htmx:wsClose", function (event) {
    const panel = panelSocket(event);
    if (!panel) return;
    closedOnce.add(panel);
    const status = byId("room-status");
    if (status) status.textContent = "Disconnected from the drafts room — reconnecting…";
  });

  // --- the request form: modes, where the draft goes, shortcuts -----------------------------
  const INSTRUCTION = {
    new: ["Instruction (optional)", "e.g. Jonah loses his temper; keep it short."],
    continue: ["Instruction (optional)", "e.g. Mara finally says no."],
    rewrite: ["How to rewrite it", "e.g. make Jonah colder; one line shorter."],
    tone: ["Which tone", "e.g. drier, more deadpan"],
    voice: ["Anything else (optional)", "e.g. keep the joke."],
    tighten: ["Anything else (optional)", "e.g. keep the last line."],
    punch_up: ["Anything else (optional)", "e.g. keep the last line."],
    dialogue: ["What to change in their lines", "e.g. more evasive, fewer words."],
  };

  function currentMode() {
    const form = byId("draft-form");
    const checked = form && form.querySelector('input[name="mode"]:checked');
    return checked ? checked.value : "continue";
  }

  // Where the writer is in the scene's text: the page's live editor (on the whole-script
  // view, the focused block's). Never another scene's: an editor that says its scene must
  // be the panel's.
  function place() {
    const editor = window.cowriteEditor;
    if (!editor || !editor.view || !editor.place) return null;
    const panel = byId("drafts-panel");
    const scene = panel && panel.dataset ? panel.dataset.sceneId : "";
    if (scene && editor.sceneId && String(editor.sceneId) !== scene) return null;
    return editor.place();
  }

  function describe() {
    const form = byId("draft-form");
    const where = byId("draft-where");
    if (!form || !where) return;
    const mode = currentMode();
    const p = place();
    let text;
    if (mode === "new") {
      text = "Writes the scene from its heading, cast and synopsis.";
    } else if (mode === "continue") {
      text = p && p.placed && !p.atEnd
        ? `Continues from your cursor (line ${p.headLine}); accepting inserts it there.`
        : "Continues from the end of the scene.";
    } else if (!p || p.empty) {
      text = "Select the passage to rewrite in the scene first.";
    } else {
      const lines = p.fromLine === p.toLine ? `line ${p.fromLine}` : `lines ${p.fromLine}–${p.toLine}`;
      text = (mode === "dialogue" ? "A dialogue pass over the selection" : "Rewrites the selection") + ` (${lines}).`;
    }
    where.textContent = text;
  }

  function showOptions() {
    const form = byId("draft-form");
    if (!form) return;
    const mode = currentMode();
    const rewrite = form.elements.rewrite ? form.elements.rewrite.value : "";
    const shown = new Set([mode]);
    if (mode === "rewrite" && rewrite === "voice") shown.add("voice");
    form.querySelectorAll("[data-for]").forEach(function (box) {
      box.hidden = !box.dataset.for.split(" ").some((m) => shown.has(m));
    });
    const key = mode === "rewrite" && rewrite ? rewrite : mode;
    const [label, placeholder] = INSTRUCTION[key] || INSTRUCTION.continue;
    const labelEl = form.querySelector("[data-instruction-label]");
    if (labelEl) labelEl.textContent = label;
    if (form.elements.instruction) form.elements.instruction.placeholder = placeholder;
    describe();
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (!target || (target.name !== "mode" && target.name !== "rewrite")) return;
    if (target.closest && target.closest("#draft-form")) showOptions();
  });
  document.addEventListener("cowrite:selection", describe);

  // A request carries where it was asked: a rewrite its selection, a continuation the
  // cursor (only once the writer has put it in the text), each twice: in characters (code
  // points, as the server counts) and as Yjs relative positions, which the server finds
  // again in its live document even after others have typed (see the editor's place()).
  document.body.addEventListener("htmx:wsConfigSend", function (event) {
    const params = event.detail.parameters;
    if (params.action !== "draft_request") return;
    const mode = params.mode || currentMode();
    const p = place();
    for (const name of ["selection_start", "selection_end", "anchor_start", "anchor_end"]) params[name] = "";
    if (p && (mode === "rewrite" || mode === "dialogue") && !p.empty) {
      params.selection_start = String(p.start);
      params.selection_end = String(p.end);
      params.anchor_start = p.anchorStart;
      params.anchor_end = p.anchorEnd;
    } else if (p && mode === "continue" && p.placed && !p.atEnd) {
      params.selection_start = String(p.cursorAt);
      params.anchor_start = p.cursor;
    }
    delete params.HEADERS; // not needed: the socket is already authenticated
  });

  // "At my cursor": the accept carries this writer's cursor as a relative position.
  document.body.addEventListener("htmx:configRequest", function (event) {
    const elt = event.detail.elt;
    const sender = elt && elt.closest && elt.closest("form[data-my-cursor]");
    if (!sender) return;
    const p = place();
    event.detail.parameters.cursor = p && p.placed ? p.cursor : "";
  });

  // --- compare: a request's alternatives side by side -------------------------------------
  let refreshTimer = null;

  function loadCompare(url) {
    const body = byId("drafts-compare-body");
    if (!body || !window.htmx) return Promise.resolve();
    return htmx.ajax("GET", url, { target: body, swap: "innerHTML" });
  }

  function openCompare(url) {
    const dialog = byId("drafts-compare");
    if (!dialog) return;
    loadCompare(url).then(function () {
      if (!dialog.isConnected) return; // its panel was replaced meanwhile
      if (!dialog.open) dialog.showModal();
      const first = dialog.querySelector(".compare-actions button, [data-compare-close]");
      if (first) first.focus();
    });
  }

  function refreshCompare() {
    const dialog = byId("drafts-compare");
    const box = dialog && dialog.open && dialog.querySelector(".compare");
    if (!box) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      const msg = byId("compare-msg");
      const kept = msg ? msg.innerHTML : "";
      loadCompare(box.dataset.compareUrl).then(function () {
        const again = byId("compare-msg");
        if (again && kept) again.innerHTML = kept;
      });
    }, 250);
  }

  document.body.addEventListener("click", function (event) {
    const opener = event.target.closest && event.target.closest("[data-compare-url].compare-open");
    if (opener) openCompare(opener.dataset.compareUrl);
  });

  // An action taken in the compare view (accept, rate, pick, undo) answers in the view's own
  // message line, and the view reloads to show what changed.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    const dialog = byId("drafts-compare");
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!dialog || !elt || !dialog.contains(elt) || event.detail.target === byId("drafts-compare-body")) return;
    event.detail.shouldSwap = false;
    event.detail.isError = false;
    const msg = byId("compare-msg");
    const xhr = event.detail.xhr;
    if (msg) {
      if (xhr.status >= 400) msg.innerHTML = xhr.responseText;
      else if (/class="msg/.test(xhr.responseText)) msg.innerHTML = xhr.responseText;
      else msg.innerHTML = "";
    }
    if (xhr.status < 400) refreshCompare();
  });

  // A card of the compared request re-rendered by the room (finished, accepted, rated by
  // someone): reload the view. Token deltas swap spans, not cards, and are ignored.
  document.body.addEventListener("htmx:oobAfterSwap", function (event) {
    const target = event.detail.target;
    const dialog = byId("drafts-compare");
    const box = dialog && dialog.open && dialog.querySelector(".compare");
    if (!box || !target || !target.classList || !target.classList.contains("passage")) return;
    const group = target.closest(".draft-group");
    if (group && group.id === "group-" + box.dataset.group) refreshCompare();
  });

  // --- keys ---------------------------------------------------------------------------------
  // Ctrl/Cmd+Enter asks for a draft; Alt+Shift+N/C/R/D picks what to write (and moves to the
  // instruction); Alt+Shift+V compares the newest request's alternatives. By key position
  // (event.code), so Option on a Mac does not turn the letter into a symbol.
  document.addEventListener("keydown", function (event) {
    const form = byId("draft-form");
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      if (form) {
        event.preventDefault();
        htmx.trigger(form, "submit");
      }
      return;
    }
    if (!event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey) return;
    if (event.code === "KeyV") {
      const opener = document.querySelector("#drafts-list .compare-open");
      if (opener) {
        event.preventDefault();
        openCompare(opener.dataset.compareUrl);
      }
      return;
    }
    const radio = form && form.querySelector(`input[name="mode"][data-key="${event.code}"]`);
    if (!radio) return;
    event.preventDefault();
    event.stopPropagation();
    radio.checked = true;
    showOptions();
    if (form.elements.instruction) form.elements.instruction.focus();
  }, true);

  // The page's panel now; each one htmx brings later (its htmx:load).
  const first = byId("drafts-panel");
  if (first) init(first);
  if (window.htmx && htmx.onLoad) {
    htmx.onLoad(function (elt) {
      const panel = elt && (elt.id === "drafts-panel" ? elt : elt.querySelector && elt.querySelector("#drafts-panel"));
      if (panel) init(panel);
    });
  }
})();

// Feedback on drafts (rate, tag, comment, pick, rank, record an edit): htmx forms in each
// card. What follows only keeps them pleasant while cards re-render live.
// Delegated too: they serve whichever panel the page shows.
(function () {
  "use strict";

  // A refused action on a draft (feedback, accept, retry) answers 4xx with a message
  // aimed at a message slot; htmx 2 drops 4xx bodies unless told to swap them.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    const elt = event.detail.elt;
    if (status >= 400 && status < 500 && elt && elt.closest && elt.closest(".passage-feedback, .passage-actions") && !elt.closest("#drafts-compare")) {
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
