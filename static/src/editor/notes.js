/*
 * Notes on the text, in the scene editor and the page's Notes card
 * (server: scripts_app/notes.py, views_notes.py; list: templates/partials/notes.html).
 *
 * - sceneNotes(): a CodeMirror extension for the scene page's editor. It reads the open
 *   notes from the list's <script id="notes-data"> ([{id, start, end}]: base64 Yjs relative
 *   positions), finds each in the scene's Y.Text (Y.createAbsolutePositionFromRelativePosition),
 *   highlights the words (a mark decoration) and puts a marker in the gutter at the first
 *   line. It finds them again after every change of the text and every refresh of the list
 *   (a NotesChanged over the scene room makes the page fetch the list). A note whose words
 *   were all deleted (the span collapsed) is not drawn: the card shows it with its quote.
 * - Clicking a marker or highlighted words shows the note in the card; a note's quote in
 *   the card selects its words in the editor.
 * - "Add note" (#note-add in the live bar, or Ctrl+Alt+M) takes the editor's selection
 *   (window.cowriteEditor.place(): anchorStart/anchorEnd), fills #note-new and focuses it.
 * - The card's forms are htmx forms; here: refusals (4xx aimed at #notes-msg) are shown,
 *   and a refresh of the list keeps what the writer was typing in it.
 * No inline scripts or handlers (the Content-Security-Policy forbids them).
 */
import * as Y from "yjs";
import { StateField, StateEffect, RangeSet } from "@codemirror/state";
import { EditorView, Decoration, ViewPlugin, gutter, GutterMarker } from "@codemirror/view";
import { ySyncFacet } from "y-codemirror.next";

const QUOTE_CHARS = 140;

/** base64 → bytes (what the server stores: standard base64 of Y.encodeRelativePosition). */
export function fromBase64(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function toBase64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * Where each note's words are in `ytext` now: [{id, from, to}] (UTF-16 offsets, which are
 * CodeMirror's), sorted; notes that cannot be found or whose span collapsed are left out.
 */
export function resolveNotes(ytext, notes) {
  const doc = ytext.doc;
  const out = [];
  for (const n of notes || []) {
    try {
      const a = Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(fromBase64(n.start)), doc);
      const b = Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(fromBase64(n.end)), doc);
      if (!a || !b || a.type !== ytext || b.type !== ytext) continue;
      const from = a.index;
      const to = Math.min(b.index, ytext.length);
      if (to > from) out.push({ id: n.id, from, to });
    } catch (err) {
      // A malformed position (the server checks them; never expected): skip the note.
    }
  }
  return out.sort((x, y) => x.from - y.from || x.to - y.to);
}

// --- the editor side ---------------------------------------------------------------------

const setNotes = StateEffect.define();

class NoteMarker extends GutterMarker {
  constructor(ids, spacer = false) { super(); this.ids = ids; this.spacer = spacer; }
  eq(other) { return other.ids.join() === this.ids.join() && other.spacer === this.spacer; }
  toDOM() {
    const node = document.createElement("span");
    node.className = this.spacer ? "cm-note-spacer" : "cm-note-marker";
    node.dataset.noteIds = this.ids.join(" ");
    node.title = this.ids.length === 1 ? "A note on this line" : `${this.ids.length} notes on this line`;
    node.textContent = this.ids.length === 1 ? "✎" : String(this.ids.length);
    return node;
  }
}

function build(doc, list) {
  const marks = list.map((n) =>
    Decoration.mark({ class: "cm-note-span", attributes: { "data-note-id": String(n.id) } }).range(n.from, n.to));
  const byLine = new Map();
  for (const n of list) {
    const at = doc.lineAt(n.from).from;
    if (!byLine.has(at)) byLine.set(at, []);
    byLine.get(at).push(n.id);
  }
  const markers = [...byLine.entries()].sort((a, b) => a[0] - b[0]).map(([at, ids]) => new NoteMarker(ids).range(at));
  return { list, marks: Decoration.set(marks, true), markers: RangeSet.of(markers, true) };
}

const notesField = StateField.define({
  create: () => ({ list: [], marks: Decoration.none, markers: RangeSet.empty }),
  update(value, tr) {
    let v = value;
    if (tr.docChanged) {
      // Until the notes are found again (next frame): keep them where the change moves them.
      v = {
        list: v.list.map((n) => ({ id: n.id, from: tr.changes.mapPos(n.from, 1), to: tr.changes.mapPos(n.to, -1) })),
        marks: v.marks.map(tr.changes),
        markers: v.markers.map(tr.changes),
      };
    }
    for (const e of tr.effects) if (e.is(setNotes)) v = build(tr.state.doc, e.value);
    return v;
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.marks),
});

/** Where note `id`'s words are in the editor now, or null. */
export function noteRange(view, id) {
  const n = view.state.field(notesField, false)?.list.find((x) => String(x.id) === String(id));
  return n && n.to > n.from ? n : null;
}

function readNotesData() {
  const node = document.getElementById("notes-data");
  if (!node) return [];
  try {
    const data = JSON.parse(node.textContent);
    return Array.isArray(data) ? data : [];
  } catch (err) {
    return [];
  }
}

function message(text) {
  const slot = document.getElementById("notes-msg");
  if (!slot) return;
  if (!text) { slot.replaceChildren(); return; }
  const div = document.createElement("div");
  div.className = "msg msg-error";
  div.setAttribute("role", "alert");
  div.textContent = text;
  slot.replaceChildren(div);
}

/** Show note `id` in the card (scroll to it, mark it; `focus`: move the keyboard there). */
function showInCard(id, focus) {
  const item = document.getElementById(`note-${id}`);
  if (!item) return;
  document.querySelectorAll(".note-thread.is-active").forEach((n) => n.classList.remove("is-active"));
  item.classList.add("is-active");
  const resolved = item.closest("details");
  if (resolved && !resolved.open) resolved.open = true;
  item.scrollIntoView({ block: "nearest", behavior: "smooth" });
  if (focus) item.focus({ preventScroll: true });
}

function truncate(text, n) {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > n ? t.slice(0, n - 1) + "…" : t;
}

// What the writer typed in the list survives a refresh (someone else's note, say).
function stash(list, skip) {
  const state = { text: {}, open: [], focus: null };
  list.querySelectorAll("textarea[id]").forEach((t) => {
    if (t.value !== t.defaultValue && !(skip && skip.contains(t))) state.text[t.id] = t.value;
  });
  list.querySelectorAll("details[id]").forEach((d) => {
    if (d.open && !(skip && d.contains(skip))) state.open.push(d.id);
  });
  const active = document.activeElement;
  if (active && active.id && list.contains(active) && !(skip && skip.contains(active))) state.focus = active.id;
  return state;
}

function unstash(state) {
  for (const id of state.open) {
    const d = document.getElementById(id);
    if (d) d.open = true;
  }
  for (const [id, value] of Object.entries(state.text)) {
    const t = document.getElementById(id);
    if (t) t.value = value;
  }
  if (state.focus) {
    const f = document.getElementById(state.focus);
    if (f) f.focus({ preventScroll: true });
  }
}

class NotesPlugin {
  constructor(view) {
    this.view = view;
    const conf = view.state.facet(ySyncFacet);
    this.ytext = conf ? conf.ytext : null;
    this.notes = readNotesData();
    this.frame = 0;
    this.tries = 0;
    this.listeners = [];
    this.stashed = null;
    if (!this.ytext) return;
    this.observer = () => this.schedule();
    this.ytext.observe(this.observer);
    const on = (target, type, fn, opts) => { target.addEventListener(type, fn, opts); this.listeners.push([target, type, fn, opts]); };
    on(document, "keydown", (e) => this.onKey(e));
    on(document, "click", (e) => this.onClick(e));
    on(document.body, "htmx:beforeSwap", (e) => this.beforeSwap(e));
    on(document.body, "htmx:afterSettle", () => this.afterSettle());
    on(document.body, "htmx:afterRequest", (e) => this.afterRequest(e));
    const add = document.getElementById("note-add");
    if (add) add.hidden = false;
    this.schedule();
  }

  update(u) {
    if (u.docChanged) this.schedule();
  }

  destroy() {
    if (this.ytext && this.observer) this.ytext.unobserve(this.observer);
    for (const [t, type, fn, opts] of this.listeners) t.removeEventListener(type, fn, opts);
    if (this.frame) cancelAnimationFrame(this.frame);
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.resolve();
    });
  }

  resolve() {
    const view = this.view;
    if (this.ytext.length !== view.state.doc.length) {
      // The editor and the Y.Text are between two steps of a sync: look again next frame.
      if (this.tries++ < 20) this.schedule();
      return;
    }
    this.tries = 0;
    const list = resolveNotes(this.ytext, this.notes);
    const old = view.state.field(notesField).list;
    const same = old.length === list.length &&
      old.every((n, i) => n.id === list[i].id && n.from === list[i].from && n.to === list[i].to);
    if (!same) view.dispatch({ effects: setNotes.of(list) });
  }

  // "Add note": the selection's relative positions into #note-new.
  startNote() {
    const form = document.getElementById("note-new");
    if (!form) return false;
    const view = this.view;
    let sel = view.state.selection.main;
    if (sel.empty) sel = this.domSelection() || sel;
    if (sel.empty) {
      message("Select the words the note is about, then Add note.");
      return true;
    }
    const api = window.cowriteEditor;
    const fromEditor = api && api.view === view && typeof api.place === "function" && !view.state.selection.main.empty;
    let start;
    let end;
    if (fromEditor) {
      const p = api.place();
      start = p.anchorStart;
      end = p.anchorEnd;
    } else {
      const rel = (index, assoc) =>
        toBase64(Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(this.ytext, index, assoc)));
      start = rel(sel.from, 0);
      end = rel(sel.to, -1);
    }
    form.elements.anchor_start.value = start;
    form.elements.anchor_end.value = end;
    const quote = document.getElementById("note-new-quote");
    if (quote) quote.textContent = truncate(view.state.sliceDoc(sel.from, sel.to), QUOTE_CHARS);
    message("");
    form.hidden = false;
    const body = form.elements.body;
    body.focus();
    form.scrollIntoView({ block: "nearest" });
    return true;
  }

  // A read-only editor may leave the selection to the browser: read it from the page.
  domSelection() {
    const s = document.getSelection();
    if (!s || s.rangeCount === 0 || s.isCollapsed) return null;
    const content = this.view.contentDOM;
    if (!content.contains(s.anchorNode) || !content.contains(s.focusNode)) return null;
    try {
      const a = this.view.posAtDOM(s.anchorNode, s.anchorOffset);
      const b = this.view.posAtDOM(s.focusNode, s.focusOffset);
      return { from: Math.min(a, b), to: Math.max(a, b), empty: a === b };
    } catch (err) {
      return null;
    }
  }

  onKey(e) {
    const mod = e.ctrlKey || e.metaKey;
    if (e.defaultPrevented || !mod || !e.altKey || e.shiftKey) return;
    if (e.code !== "KeyM" && (e.key || "").toLowerCase() !== "m") return;
    if (this.startNote()) e.preventDefault();
  }

  onClick(e) {
    const target = e.target instanceof Element ? e.target : null;
    if (!target) return;
    if (target.closest("#note-add")) {
      e.preventDefault();
      this.startNote();
      return;
    }
    if (target.closest("#note-new-cancel")) {
      const form = document.getElementById("note-new");
      if (form) { form.reset(); form.hidden = true; }
      message("");
      this.view.focus();
      return;
    }
    const show = target.closest("[data-note-show]");
    if (show) {
      const n = noteRange(this.view, show.dataset.noteShow);
      if (n) {
        this.view.dispatch({ selection: { anchor: n.from, head: n.to }, scrollIntoView: true });
        this.view.focus();
      }
      return;
    }
    const marker = target.closest(".cm-note-marker");
    if (marker && this.view.dom.contains(marker)) {
      const ids = (marker.dataset.noteIds || "").split(" ").filter(Boolean);
      if (ids.length) showInCard(ids[0], true);
      return;
    }
    const span = target.closest(".cm-note-span");
    if (span && this.view.dom.contains(span)) showInCard(span.dataset.noteId, false);
  }

  beforeSwap(e) {
    const d = e.detail || {};
    const elt = d.elt instanceof Element ? d.elt : null;
    const inNotes = elt && (elt.closest("#notes") || elt.id === "notes-refresh");
    if (!inNotes) return;
    const status = d.xhr ? d.xhr.status : 0;
    if (status >= 400 && status < 500 && d.xhr.getResponseHeader("HX-Retarget")) {
      d.shouldSwap = true; // a refusal with its message, aimed at #notes-msg
      d.isError = false;
      return;
    }
    const list = document.getElementById("notes-list");
    // Keep everything typed in the list, but for the form whose own request this is.
    const own = elt.closest("form");
    if (d.shouldSwap && list && d.target === list) this.stashed = stash(list, own);
  }

  afterSettle() {
    const data = readNotesData();
    if (JSON.stringify(data) !== JSON.stringify(this.notes)) {
      this.notes = data;
      this.schedule();
    }
    if (this.stashed && document.getElementById("notes-list")) {
      const state = this.stashed;
      this.stashed = null;
      unstash(state);
    }
  }

  afterRequest(e) {
    const d = e.detail || {};
    const elt = d.elt instanceof Element ? d.elt : null;
    if (!elt || !elt.closest("#notes")) return;
    const xhr = d.xhr;
    const status = xhr ? xhr.status : 0;
    if (status >= 200 && status < 300) {
      message("");
      if (elt.id === "note-new") {
        elt.reset();
        elt.hidden = true;
      }
      return;
    }
    // A refusal with its message was swapped into #notes-msg (beforeSwap); else say so.
    if (xhr && xhr.getResponseHeader("HX-Retarget")) return;
    message(status === 403
      ? "You cannot do that here (your role may have changed). Reload the page."
      : "That did not go through. Check the connection and try again.");
  }
}

/** The scene page's notes: highlights, gutter markers, the card's behaviour. */
export function sceneNotes() {
  return [
    notesField,
    ViewPlugin.fromClass(NotesPlugin),
    gutter({
      class: "cm-notes-gutter",
      markers: (view) => view.state.field(notesField).markers,
      initialSpacer: () => new NoteMarker([0], true), // sizes the gutter, never shown
    }),
  ];
}
