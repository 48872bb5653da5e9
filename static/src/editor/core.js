/*
 * One live scene editor: CodeMirror 6 bound to a scene's Yjs document over y-websocket.
 * `mountEditor(root, options)` mounts it and returns its handle. The scene page
 * (main.js, one editor) and the whole-script view (script-view.js, one per scene block)
 * both use it; the page contract, the status line, presence, "Save version" and place()
 * are described in main.js's header.
 */
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import { EditorState, Compartment, RangeSetBuilder } from "@codemirror/state";
import {
  EditorView, ViewPlugin, Decoration, keymap, drawSelection, dropCursor,
  highlightSpecialChars, highlightActiveLine, rectangularSelection, crosshairCursor,
  placeholder as emptyHint,
} from "@codemirror/view";
import { StreamLanguage, HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { defaultKeymap } from "@codemirror/commands";
import { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { Tag } from "@lezer/highlight";

import { fountainStreamParser, TOKEN_NAMES, classifyLines } from "./fountain-mode.js";
import { userColor } from "./colors.js";
import { safeColor, sanitizeRemoteStates } from "./presence.js";
import { elementKeys } from "./elements.js"; // writer's desk: Enter/Tab elements + label
import { screenplayCompletion, readHints } from "./autocomplete.js";
import { installShortcuts, openShortcuts } from "./shortcuts.js";
import { autoContd } from "./contd.js";

// What an empty scene shows where the text goes (CodeMirror's placeholder: gone at the
// first character, never part of the text). Viewers get a plain note instead.
const EMPTY_SCENE_HINT =
  "INT. PLACE - DAY — then what happens. Type a character's name in capitals to start dialogue.";
const EMPTY_SCENE_NOTE = "Nothing written in this scene yet.";

const RESYNC_MS = 10_000; // y-websocket re-sends sync step 1 this often (default: never)
const FALLBACK_MS = 8_000; // no first sync by then: give editors the plain textarea back

// --- Fountain language --------------------------------------------------------------------

const fountainTags = Object.fromEntries(TOKEN_NAMES.map((n) => [n, Tag.define()]));
const fountainLanguage = StreamLanguage.define({ ...fountainStreamParser, tokenTable: fountainTags });
const fountainHighlight = HighlightStyle.define(
  TOKEN_NAMES.map((n) => ({ tag: fountainTags[n], class: `cf-t-${n}` })),
);

/** Classes every line by its Fountain element (cf-line cf-<type>) for the screenplay layout. */
const screenplayLines = ViewPlugin.fromClass(class {
  constructor(view) {
    this.types = this.classify(view.state.doc);
    this.decorations = this.build(view);
  }
  classify(doc) {
    const lines = [];
    for (const iter = doc.iterLines(); !iter.next().done;) lines.push(iter.value);
    return classifyLines(lines);
  }
  update(u) {
    if (u.docChanged) this.types = this.classify(u.state.doc);
    if (u.docChanged || u.viewportChanged) this.decorations = this.build(u.view);
  }
  build(view) {
    const builder = new RangeSetBuilder();
    const doc = view.state.doc;
    for (const { from, to } of view.visibleRanges) {
      for (let pos = from; pos <= to;) {
        const line = doc.lineAt(pos);
        const type = this.types[line.number - 1] || "action";
        builder.add(line.from, line.from, Decoration.line({ class: `cf-line cf-${type}` }));
        pos = line.to + 1;
      }
    }
    return builder.finish();
  }
}, { decorations: (v) => v.decorations });

// Alt+ArrowUp/Down belong to the page (static/js/app.js: previous/next scene), not to
// CodeMirror's "move line" — otherwise one key press would do both.
const PAGE_KEYS = new Set(["Alt-ArrowUp", "Alt-ArrowDown"]);
const editorKeymap = defaultKeymap.filter((b) => !PAGE_KEYS.has(b.key));

// --- helpers -----------------------------------------------------------------------------


export function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

export function base64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function setStatusAttrs(node) {
  if (!node) return;
  if (!node.hasAttribute("role")) node.setAttribute("role", "status");
  if (!node.hasAttribute("aria-live")) node.setAttribute("aria-live", "polite");
}

// --- mount -------------------------------------------------------------------------------

/**
 * Mount one live editor on `root` for one scene document and return its handle (the same
 * object the scene page publishes as window.cowriteEditor, plus destroy()).
 *
 * options (all optional but wsUrl):
 *   wsUrl, room ("doc"), userId, username, canEdit   as the page contract's data-* say
 *   sceneId        the scene of the document (api.sceneId: drafts.js checks that the editor
 *                  it takes the cursor from is the drafts panel's scene)
 *   hints          readHints()'s object (autocomplete, automatic CONT'D)
 *   textarea       the plain-text fallback/initial text (scene page: #id_text)
 *   form           the "Save version" form (scene page: #editor-form)
 *   presenceEl, statusEl, labelEl   where presence, the status line and the element label go
 *   initialText    text to show (read-only) until the first sync when there is no textarea
 *   extensions     more CodeMirror extensions (page breaks, split keys, notes…)
 *   onLive(api)    called once, at the first sync, when the editor is live
 *   presenceLabel  the presence row's words ("In this scene")
 */
export function mountEditor(root, options = {}) {
  const wsUrl = (options.wsUrl || "").replace(/\/+$/, "");
  const room = options.room || "doc";
  const userId = options.userId || "";
  const username = options.username || "Anonymous";
  const canEdit = options.canEdit === true;
  const textarea = options.textarea || null;
  const form = options.form || null;
  const presenceEl = options.presenceEl || null;
  const statusEl = options.statusEl || null;
  const presenceLabel = options.presenceLabel || "In this scene";
  setStatusAttrs(statusEl);
  const listeners = [];
  const listen = (target, type, fn) => { target.addEventListener(type, fn); listeners.push([target, type, fn]); };

  const ydoc = new Y.Doc();
  const ytext = ydoc.getText("text");
  const undoManager = new Y.UndoManager(ytext); // tracks local edits only (remote ones carry the provider as origin)

  let mode = "loading"; // loading | live | fallback
  let everSynced = false;
  let terminal = null; // {code, reason} when the server closed for good (4400-4499)
  let failures = 0;
  const initialText = textarea ? textarea.value : "";
  const textareaReadOnly = textarea ? textarea.readOnly : true; // viewers' textarea is readonly
  const plainAction = form ? form.getAttribute("action") : null;
  const liveAction = form ? form.dataset.liveAction || null : null;

  // Loading state: the plain text, read-only and dimmed, until the first sync.
  root.classList.add("cowrite-editor", "is-loading");
  root.setAttribute("aria-busy", "true");
  const cmHost = el("div", { class: "cowrite-cm" });
  cmHost.style.display = "none";
  root.append(cmHost);
  let placeholder = null;
  if (textarea) {
    textarea.readOnly = true;
    textarea.classList.add("cowrite-pending");
  } else {
    placeholder = options.initialText != null
      ? el("pre", { class: "cowrite-placeholder cowrite-static" }, options.initialText)
      : el("p", { class: "cowrite-placeholder" }, "Loading the scene…");
    root.append(placeholder);
  }

  // Provider. `resyncInterval` re-sends sync step 1; awareness renews itself every 15 s, so the
  // server's relay keeps the socket under y-websocket's 30 s "heard nothing" reconnect limit.
  let provider = null;
  if (/^wss?:\/\//.test(wsUrl)) {
    provider = new WebsocketProvider(wsUrl, room, ydoc, { connect: true, resyncInterval: RESYNC_MS });
  } else {
    console.error("cowrite editor: data-ws-url must be an absolute ws:// or wss:// URL, got", options.wsUrl);
  }
  const awareness = provider ? provider.awareness : null;
  // Before anything draws a remote state (the remote carets listen after this): check it.
  if (awareness) awareness.on("change", ({ added, updated }) => sanitizeRemoteStates(awareness, [...added, ...updated]));
  const { color, colorLight } = userColor(userId, username);
  if (awareness) {
    awareness.setLocalStateField("user", { name: username, color, colorLight, id: userId, canEdit });
  }

  // Where the writer is (for the drafts panel): see place() in the header.
  let placed = false;
  let announcing = false;
  function announceSelection() {
    if (announcing) return;
    announcing = true;
    requestAnimationFrame(() => {
      announcing = false;
      document.dispatchEvent(new CustomEvent("cowrite:selection"));
    });
  }
  const relative = (index, assoc) =>
    base64(Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(ytext, index, assoc)));

  // Editor.
  const access = new Compartment();
  const accessExt = (editable) => [EditorState.readOnly.of(!editable), EditorView.editable.of(editable)];
  const hints = options.hints || readHints(); // the page's project data (autocomplete, automatic CONT'D)
  const view = new EditorView({
    parent: cmHost,
    state: EditorState.create({
      doc: ytext.toString(),
      extensions: [
        // Writer's desk (elements.js, autocomplete.js, shortcuts.js): before the default keys.
        ...(options.extensions || []), // the page's own (before the writer's desk keys)
        elementKeys({ labelEl: options.labelEl || null }),
        screenplayCompletion(hints),
        autoContd(hints.autoContd), // the project's automatic (CONT'D), shown only
        keymap.of([{ key: "Mod-/", run: openShortcuts }]),
        keymap.of([...yUndoManagerKeymap, ...searchKeymap, ...editorKeymap]),
        highlightSpecialChars(),
        drawSelection(),
        dropCursor(),
        rectangularSelection(),
        crosshairCursor(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        EditorView.lineWrapping,
        fountainLanguage,
        syntaxHighlighting(fountainHighlight),
        screenplayLines,
        emptyHint(canEdit ? EMPTY_SCENE_HINT : EMPTY_SCENE_NOTE),
        access.of(accessExt(false)),
        EditorView.contentAttributes.of({
          "aria-label": canEdit ? "Scene text (Fountain), live" : "Scene text (Fountain), read only",
          spellcheck: "true",
          autocorrect: "off",
          autocapitalize: "off",
        }),
        yCollab(ytext, awareness, { undoManager }),
        EditorView.updateListener.of((u) => {
          if (u.selectionSet || u.docChanged) announceSelection();
        }),
        EditorView.domEventHandlers({
          focus: () => { placed = true; announceSelection(); },
          mousedown: () => { placed = true; },
        }),
      ],
    }),
  });

  function goLive() {
    mode = "live";
    root.classList.remove("is-loading", "is-fallback");
    root.removeAttribute("aria-busy");
    if (placeholder) { placeholder.remove(); placeholder = null; }
    if (textarea) {
      textarea.readOnly = textareaReadOnly;
      textarea.classList.remove("cowrite-pending");
      textarea.style.display = "none";
    }
    cmHost.style.display = "";
    view.dispatch({ effects: access.reconfigure(accessExt(canEdit)) });
    view.requestMeasure();
  }

  function goFallback() {
    if (mode !== "loading" || !textarea || !canEdit) return;
    mode = "fallback";
    root.classList.remove("is-loading");
    root.classList.add("is-fallback");
    textarea.readOnly = textareaReadOnly;
    textarea.classList.remove("cowrite-pending");
    renderStatus();
  }
  const fallbackTimer = setTimeout(goFallback, FALLBACK_MS);

  function onFirstSync() {
    everSynced = true;
    clearTimeout(fallbackTimer);
    if (mode === "fallback" && textarea && textarea.value !== initialText) {
      // They typed into the plain textarea meanwhile: do not swap it out from under them.
      renderStatus();
      return;
    }
    goLive();
    if (options.onLive) options.onLive(api);
    announceSelection();
  }

  // Status line.
  let lastStatus = "";
  function renderStatus() {
    if (!statusEl) return;
    let text;
    let state;
    const online = navigator.onLine !== false;
    if (!provider) {
      text = "Live editing is unavailable on this page (no server address).";
      state = "error";
    } else if (terminal) {
      text = `The live server closed this scene (${terminal.reason || terminal.code}). Reload the page to try again.`;
      state = "error";
    } else if (mode === "fallback" && everSynced) {
      text = "Live editing is back, but you changed the text here: save it, then reload to edit live.";
      state = "warn";
    } else if (provider.synced && mode === "live") {
      text = canEdit ? "Live" : "Live — read only";
      state = "live";
    } else if (everSynced) {
      if (!online) text = canEdit ? "Offline — your edits are kept" : "Offline — waiting for the network";
      else text = canEdit ? "Reconnecting… your edits are kept and will merge" : "Reconnecting…";
      state = online ? "connecting" : "offline";
    } else if (mode === "fallback") {
      text = "Can't reach the live server — you can edit the saved text here and Save. Still trying…";
      state = "offline";
    } else if (!online) {
      text = "Offline — waiting for the network to load the live scene";
      state = "offline";
    } else if (failures > 0) {
      text = "Can't reach the live server — retrying…";
      state = "connecting";
    } else {
      text = "Connecting…";
      state = "connecting";
    }
    statusEl.dataset.state = state;
    if (text !== lastStatus) {
      lastStatus = text;
      statusEl.replaceChildren(el("span", { class: "status-dot", "aria-hidden": "true" }), el("span", { class: "status-text" }, text));
    }
  }

  // Presence row: one entry per user (several tabs collapse), dot + name (+ role words).
  function renderPresence() {
    if (!presenceEl || !awareness) return;
    const users = new Map();
    awareness.getStates().forEach((state, clientId) => {
      const u = state && state.user;
      if (!u || typeof u.name !== "string") return;
      const key = u.id ? `id:${u.id}` : `c:${clientId}`;
      const me = clientId === ydoc.clientID;
      const prev = users.get(key);
      users.set(key, {
        name: u.name.slice(0, 80),
        color: safeColor(u.color),
        me: me || (prev && prev.me),
        viewer: u.canEdit === false,
      });
    });
    const list = el("ul", { class: "presence-list" });
    const sorted = [...users.values()].sort((a, b) => (b.me - a.me) || a.name.localeCompare(b.name));
    for (const u of sorted) {
      const li = el("li", { class: "presence-user" + (u.me ? " is-me" : "") });
      const dot = el("span", { class: "presence-dot", "aria-hidden": "true" });
      dot.style.backgroundColor = u.color;
      li.append(dot, el("span", { class: "presence-name" }, u.name));
      const notes = [u.me ? "you" : null, u.viewer ? "viewing" : null].filter(Boolean);
      if (notes.length) li.append(el("span", { class: "presence-note" }, ` (${notes.join(", ")})`));
      list.append(li);
    }
    if (!presenceEl.hasAttribute("aria-label")) presenceEl.setAttribute("aria-label", presenceLabel);
    const label = el("span", { class: "presence-label" }, sorted.length === 1 ? `${presenceLabel}:` : `${presenceLabel} (${sorted.length}):`);
    presenceEl.replaceChildren(label, list);
  }

  if (provider) {
    provider.on("status", () => renderStatus());
    provider.on("sync", (synced) => {
      if (synced && !everSynced) onFirstSync();
      renderStatus();
    });
    provider.on("connection-error", () => { failures++; renderStatus(); });
    provider.on("connection-close", () => { failures++; renderStatus(); });
    provider.on("closed", (info) => { terminal = info; renderStatus(); });
    awareness.on("change", renderPresence);
    // Leave the room at once when the page goes (others see us go without the 30 s timeout).
    listen(window, "pagehide", () => awareness.setLocalState(null));
    listen(window, "pageshow", (e) => {
      if (e.persisted) awareness.setLocalStateField("user", { name: username, color, colorLight, id: userId, canEdit });
    });
  }
  listen(window, "online", renderStatus);
  listen(window, "offline", renderStatus);

  // "Save version": post the live text; snapshot the server's live document when it has all of
  // our edits (synced), else save the posted text at the plain save URL (see the header).
  const liveText = () => ytext.toString();
  if (form && textarea) {
    form.addEventListener("submit", () => {
      if (mode !== "live") return;
      textarea.value = liveText();
      const target = provider && provider.synced && liveAction ? liveAction : plainAction;
      if (target) form.setAttribute("action", target);
    });
    form.addEventListener("formdata", (e) => {
      if (mode === "live") e.formData.set(textarea.name || "text", liveText());
    });
  }

  function place() {
    const sel = view.state.selection.main;
    const doc = view.state.doc;
    const chars = (i) => Array.from(doc.sliceString(0, i)).length;
    const last = doc.toString().replace(/\n+$/, "").length;
    return {
      placed,
      empty: sel.empty,
      atEnd: sel.head >= last,
      start: chars(sel.from),
      end: chars(sel.to),
      fromLine: doc.lineAt(sel.from).number,
      toLine: doc.lineAt(sel.to).number,
      headLine: doc.lineAt(sel.head).number,
      anchorStart: relative(sel.from, 0),
      anchorEnd: relative(sel.to, -1),
      cursorAt: chars(sel.head),
      cursor: relative(sel.head, -1),
    };
  }

  let destroyed = false;
  /** Leave the room and free everything (the script view's far-away blocks). */
  function destroy() {
    if (destroyed) return;
    destroyed = true;
    clearTimeout(fallbackTimer);
    for (const [target, type, fn] of listeners) target.removeEventListener(type, fn);
    if (awareness) awareness.setLocalState(null);
    if (provider) provider.destroy();
    view.destroy();
    ydoc.destroy();
  }

  const api = {
    view, ydoc, provider, ytext, awareness, undoManager,
    sceneId: options.sceneId != null && options.sceneId !== "" ? String(options.sceneId) : null,
    isLive: () => mode === "live",
    place,
    relative,
    destroy,
    root,
  };
  renderStatus();
  renderPresence();
  return api;
}
