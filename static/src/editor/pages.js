/*
 * Where the printed pages break, in the editor (the same pagination as the PDF:
 * scripts_app/script_view.py's `page_breaks`, served at /projects/<id>/script/pages/).
 *
 * The server answers {pages: m, scenes: {"<id>": {start: p, breaks: [[line, page], …]}},
 * stale}: the scene's heading is on page `start`; page `page` begins at body line `line`
 * (0-based line of the scene's text; -1: the heading itself starts that page). `stale`:
 * a big script's previous layout while the new one is made on the server (`pages` is
 * null before there is any): ask again in RETRY_MS.
 *
 * - pageBreaks(): a CodeMirror extension drawing a thin "— 12 —" widget above each line
 *   where a page begins; setBreaks(view, breaks) replaces them.
 * - pageOfLine(info, line): the page that 0-based body line `line` prints on.
 * - cursorPage(root): the scene page's "Page n of m" for the cursor (in #cursor-page).
 */
import { StateField, StateEffect } from "@codemirror/state";
import { EditorView, Decoration, WidgetType, ViewPlugin } from "@codemirror/view";

const REFRESH_MS = 1500; // after typing stops, ask where the pages break now
export const RETRY_MS = 3000; // a big script is laid out on a thread: ask again (`stale`)

class BreakWidget extends WidgetType {
  constructor(page) { super(); this.page = page; }
  eq(other) { return other.page === this.page; }
  toDOM() {
    const node = document.createElement("div");
    node.className = "cf-page-break";
    node.dataset.page = String(this.page);
    node.setAttribute("aria-label", `Page ${this.page}`);
    node.textContent = `— ${this.page} —`;
    return node;
  }
  ignoreEvent() { return true; }
}

const setBreaksEffect = StateEffect.define();

function decorate(doc, breaks) {
  const ranges = [];
  for (const [line, page] of breaks) {
    if (line < 0 || line >= doc.lines) continue;
    const from = doc.line(line + 1).from;
    ranges.push(Decoration.widget({ widget: new BreakWidget(page), block: true, side: -1 }).range(from));
  }
  return Decoration.set(ranges, true);
}

const breaksField = StateField.define({
  create: () => ({ breaks: [], deco: Decoration.none }),
  update(value, tr) {
    for (const e of tr.effects) {
      if (e.is(setBreaksEffect)) return { breaks: e.value, deco: decorate(tr.state.doc, e.value) };
    }
    return tr.docChanged ? { breaks: value.breaks, deco: value.deco.map(tr.changes) } : value;
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.deco),
});

/** The page-break widgets (empty until setBreaks). */
export function pageBreaks() {
  return breaksField;
}

export function setBreaks(view, breaks) {
  view.dispatch({ effects: setBreaksEffect.of(Array.isArray(breaks) ? breaks : []) });
}

/** The page a 0-based body line prints on, from one scene's entry of the answer. */
export function pageOfLine(info, line) {
  if (!info) return null;
  let page = info.start;
  for (const [at, p] of info.breaks || []) {
    if (at <= line) page = p;
    else break;
  }
  return page;
}

export async function fetchPages(url, sceneIds) {
  const full = `${url}?scenes=${sceneIds.join(",")}`;
  const response = await fetch(full, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`pages: ${response.status}`);
  return response.json();
}

/**
 * The scene page's "Page n of m" for the cursor: `root` is #live-editor with
 * data-pages-url and data-scene-id; the words go in #cursor-page.
 */
export function cursorPage(root) {
  const url = root.dataset.pagesUrl;
  const sceneId = root.dataset.sceneId;
  const out = document.getElementById("cursor-page");
  if (!url || !sceneId || !out) return [];
  let answer = null;
  let timer = null;
  let viewRef = null;
  const show = () => {
    if (!answer || !viewRef) return;
    const info = answer.scenes[sceneId];
    if (!info) return;
    const line = viewRef.state.doc.lineAt(viewRef.state.selection.main.head).number - 1;
    out.textContent = `Page ${pageOfLine(info, line)} of ${answer.pages}`;
    out.hidden = false;
  };
  const refresh = () => {
    fetchPages(url, [sceneId]).then((a) => {
      if (a.pages != null) { answer = a; show(); }
      if (a.stale) { clearTimeout(timer); timer = setTimeout(refresh, RETRY_MS); }
    }).catch(() => {});
  };
  document.body.addEventListener("htmx:oobAfterSwap", (e) => {
    if (e.target && e.target.id === "history-refresh") refresh();
  });
  return ViewPlugin.define((view) => {
    viewRef = view;
    refresh();
    return {
      update(u) {
        if (u.docChanged) {
          clearTimeout(timer);
          timer = setTimeout(refresh, REFRESH_MS);
        }
        if (u.selectionSet || u.docChanged) show();
      },
      destroy() { clearTimeout(timer); },
    };
  });
}
