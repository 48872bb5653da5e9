/*
 * Cowrite live scene editor: CodeMirror 6 bound to a Yjs document over y-websocket.
 * Built by `npm run build` into static/dist/editor.js (ES module):
 *   <link rel="stylesheet" href="{% static 'css/editor.css' %}">
 *   <script type="module" src="{% static 'dist/editor.js' %}"></script>
 *
 * PAGE CONTRACT (what the Django template renders)
 * ------------------------------------------------
 *   <div id="live-editor"
 *        data-ws-url="wss://HOST/ws/projects/12/scenes/34"  absolute ws:// or wss:// URL, no trailing slash
 *        data-room="doc"                                    y-websocket room; socket URL = ws-url + "/" + room
 *        data-username="alice" data-user-id="7"
 *        data-can-edit="true|false"></div>
 *   <textarea id="id_text">…the scene's current plain text…</textarea>
 *        Fallback without JS. Editors: inside <form id="editor-form"> (the "Save version" form).
 *        Viewers may have neither the form nor the textarea; then a "Loading…" line is shown.
 *   <div id="presence"></div>           who is in the scene (names with colour dots)
 *   <div id="connection-status"></div>  one line of status (role="status", polite)
 *
 * Place #live-editor where the editor should appear (e.g. right before the textarea in the
 * form). Until the first sync the textarea stays visible, read-only and dimmed; then it is
 * hidden and the editor shown. If the server cannot be reached within FALLBACK_MS, editors get
 * the textarea back (editable; Save works as without JS) — if they then change it, the live
 * editor stays out of the way until they save/reload, so nothing they typed is replaced.
 * The Y.Text is never seeded from the textarea: the server sends the document.
 *
 * "Save version": this module alone picks where #editor-form posts. Before it submits (also
 * via requestSubmit / Ctrl+S) while the editor is live, the live text is copied into #id_text
 * and the form is pointed at data-live-action ("snapshot the server's live document"). While
 * live but not synced (socket down) it posts to the plain save URL (its `action` attribute)
 * instead, with the local text (the server's copy lacks our unsent edits). Until the editor is
 * live — or if it never goes live (fallback textarea) — the form posts the textarea to the
 * plain save URL, as without JS.
 *
 * window.cowriteEditor = { view, ydoc, provider, ytext, awareness, undoManager, sceneId, isLive(),
 * place() } is set once the editor is live (first sync in); before that it is absent.
 *
 * place() says where the writer is, for the drafts panel (static/js/drafts.js): the main
 * selection in characters (code points, as the server counts) and in lines, whether the
 * writer has put the cursor in the text at all (`placed`; until then it sits at 0), and the
 * same places as Yjs relative positions (base64 of Y.encodeRelativePosition on the scene's
 * Y.Text): `anchorStart` sticks to the first selected character, `anchorEnd` and `cursor`
 * to the character before them, so typing just outside the selection stays outside. The
 * server resolves them in its own copy of the document (scripts_app/positions.py).
 * Every selection change also fires `cowrite:selection` on document.
 *
 * The editor itself is core.js's mountEditor (one live editor on one scene's document);
 * this module only reads the page. On the whole-script view (#script-view instead of
 * #live-editor) it mounts script-view.js, which puts one such editor on each scene block.
 * The scene page also shows "Page n of m" for the cursor in #cursor-page when
 * #live-editor has data-scene-id and data-pages-url (pages.js).
 */
import { installShortcuts } from "./shortcuts.js";
import { mountEditor } from "./core.js"; // one live editor (CodeMirror + Yjs) on one scene
import { mountScriptView } from "./script-view.js"; // the whole-script view: one editor per scene
import { cursorPage } from "./pages.js"; // "Page n of m" for the cursor (scene page)
import { sceneNotes } from "./notes.js"; // notes on the text: highlights, margin, card (scene page)
import { revisionMarks } from "./revisions.js"; // production revision asterisks (scene page)
import { EditorView } from "@codemirror/view";

// `?line=N` (links from the coverage page's problems): put the cursor at the start of
// line N of the scene's text and scroll it to the middle, once the editor is live.
function goToLine(view, wanted) {
  const n = Number.parseInt(wanted || "", 10);
  if (!Number.isInteger(n) || n < 1 || n > view.state.doc.lines) return;
  const at = view.state.doc.line(n).from;
  view.dispatch({ selection: { anchor: at }, effects: EditorView.scrollIntoView(at, { y: "center" }) });
  view.focus();
}

// Extensions every scene editor gets, on the scene page and in the whole-script view
// (add a feature's editor extension here).
const editorExtensions = [
];

function init() {
  if (document.getElementById("script-view")) {
    installShortcuts();
    mountScriptView(document.getElementById("script-view"), { extensions: editorExtensions });
    return;
  }
  const root = document.getElementById("live-editor");
  if (!root || root.dataset.cowriteMounted) return;
  installShortcuts(); // `?` / Ctrl+/ : the shortcuts sheet (shortcuts.js)
  root.dataset.cowriteMounted = "true";
  try {
    const ds = root.dataset;
    mountEditor(root, {
      wsUrl: ds.wsUrl,
      room: ds.room,
      userId: ds.userId,
      username: ds.username,
      canEdit: ds.canEdit === "true",
      sceneId: ds.sceneId,
      textarea: document.getElementById("id_text"),
      form: document.getElementById("editor-form"),
      presenceEl: document.getElementById("presence"),
      statusEl: document.getElementById("connection-status"),
      labelEl: document.getElementById("editor-element"),
      extensions: [...editorExtensions, cursorPage(root), sceneNotes(), revisionMarks()],
      onLive: (api) => {
        window.cowriteEditor = api;
        goToLine(api.view, new URLSearchParams(window.location.search).get("line"));
      },
    });
  } catch (err) {
    // Never leave the page without a way to edit: the plain form still works.
    console.error("cowrite editor failed to start", err);
    const textarea = document.getElementById("id_text");
    if (textarea) {
      if (root.dataset.canEdit === "true") textarea.readOnly = false;
      textarea.classList.remove("cowrite-pending");
      textarea.style.display = "";
    }
    const statusEl = document.getElementById("connection-status");
    if (statusEl) statusEl.textContent = "The live editor failed to start — the plain text editor below still saves.";
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
