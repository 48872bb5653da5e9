/*
 * The whole-script view (templates/script.html, scripts_app/views_script.py): every scene
 * of a window of the script as a block — its heading (an input for editors) and a live
 * editor on that scene's own Yjs document (core.js's mountEditor, one socket per block).
 *
 * PAGE CONTRACT
 *   <div id="script-view" data-ws-base="ws://HOST/ws/projects/12/scenes" data-username
 *        data-user-id data-can-edit data-pages-url data-outline-url data-from data-csrf>
 *     <article class="script-block" data-scene-id data-panel-url data-heading-url data-split-url data-merge-url>
 *       <div class="block-page-break" hidden></div>             the heading starts a page
 *       <div class="block-head">… <input class="block-heading"> … <button class="block-merge"></div>
 *       <div class="block-bar"><div class="block-presence"></div><div class="block-status"></div>
 *            <span class="block-error"></span></div>
 *       <div class="block-editor"><pre class="block-static">the scene's text</pre></div>
 *     </article> …
 *   </div>
 *   <aside id="script-side"><button id="script-side-toggle"> (a phone's bar) <span id="script-side-for">
 *     <div id="script-side-body">the focused scene's panels</div></aside>
 *
 * Lazy sockets: a block's editor is mounted (and its socket opened) when the block comes
 * within MOUNT_MARGIN of the viewport, and destroyed UNMOUNT_MS after it has left that band
 * (unless it holds the focus); meanwhile the block shows its text statically.
 *
 * Split: when the writer completes a line that the Fountain mode reads as a scene heading
 * (Enter on it, or the cursor leaves it after they typed on it), the line's start goes to
 * the server as a Yjs relative position (data-split-url); the server cuts the scene there
 * and answers with the new scene, whose block appears right after, with the cursor in it.
 * Merge: "Merge with previous scene", or Backspace in an empty heading / at the very start
 * of the text when the heading is empty. Other open views learn of new, merged, renamed or
 * moved scenes when the story room says so (story:script, static/js/story.js), and by
 * polling data-outline-url every 15 s as a safety net (204 while nothing changed).
 *
 * Page breaks: data-pages-url says where the PDF's pages begin; drawn as "— n —" widgets
 * (pages.js), refreshed PAGES_MS after typing stops and after every change of the outline.
 * The focused block's editor is window.cowriteEditor (as on the scene page); absent while
 * the focused block's editor is not live yet.
 *
 * The side column (#script-side-body): the focused scene's panels — the drafts panel, as
 * beside the scene page's editor. When the focus enters another scene's block, its
 * data-panel-url (views_script.scene_panel) is fetched and swapped in with htmx.swap: htmx
 * cleans the old panel up (its ws extension closes that scene's room socket) and processes
 * the new one (its socket opens; static/js/drafts.js sets the panel up on htmx:load). The
 * newest focus wins: an answer for a scene the writer has left is dropped. The editors
 * carry their scene (api.sceneId), so drafts.js never takes one scene's cursor for another's.
 */
import { Prec } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";

import { mountEditor, el } from "./core.js";
import { readHints } from "./autocomplete.js";
import { classifyLines } from "./fountain-mode.js";
import { pageBreaks, setBreaks, fetchPages, pageOfLine, RETRY_MS } from "./pages.js";

const MOUNT_MARGIN = "800px 0px";
const UNMOUNT_MS = 5_000;
const OUTLINE_MS = 15_000;
const PAGES_MS = 1_500;

function lineType(doc, lineNumber) {
  const lines = [];
  for (const iter = doc.iterLines(); !iter.next().done;) lines.push(iter.value);
  return classifyLines(lines)[lineNumber - 1];
}

export function mountScriptView(container, { extensions = [] } = {}) {
  const ds = container.dataset;
  const canEdit = ds.canEdit === "true";
  const wsBase = (ds.wsBase || "").replace(/\/+$/, "");
  const hints = readHints();
  const blocks = new Map(); // scene id -> block
  const labelEl = document.getElementById("editor-element");
  const pageCountEl = document.getElementById("script-page-count");
  const cursorPageEl = document.getElementById("cursor-page");
  let pages = null;
  let outlineState = null;
  let pagesTimer = null;
  const side = document.getElementById("script-side-body");
  const sideBox = document.getElementById("script-side");
  const sideToggle = document.getElementById("script-side-toggle");
  const sideFor = document.getElementById("script-side-for");
  let panelScene = null; // the scene whose panel is shown, or on its way
  let panelSeq = 0;

  const post = (url, data) =>
    fetch(url, {
      method: "POST",
      body: new URLSearchParams(data),
      headers: { "X-CSRFToken": ds.csrf, Accept: "application/json" },
      credentials: "same-origin",
    });

  function showError(block, message) {
    const node = block.article.querySelector(".block-error");
    if (node) node.textContent = message || "";
  }

  // --- page breaks ----------------------------------------------------------------------

  function applyPages(block) {
    if (!pages) return;
    const info = pages.scenes[block.id];
    const marker = block.article.querySelector(".block-page-break");
    const atHeading = info ? info.breaks.find(([line]) => line < 0) : null;
    if (marker) {
      marker.hidden = !atHeading;
      marker.textContent = atHeading ? `— ${atHeading[1]} —` : "";
      if (atHeading) marker.dataset.page = String(atHeading[1]);
    }
    if (block.editor) setBreaks(block.editor.view, info ? info.breaks.filter(([line]) => line >= 0) : []);
  }

  /** "Page n of m" for the cursor of the focused block (header). */
  function showCursorPage(block) {
    if (!cursorPageEl || !pages || !block.editor) return;
    const view = block.editor.view;
    const line = view.state.doc.lineAt(view.state.selection.main.head).number - 1;
    const page = pageOfLine(pages.scenes[block.id], line);
    if (page != null) cursorPageEl.textContent = `Page ${page} of ${pages.pages}`;
  }

  function refreshPages() {
    clearTimeout(pagesTimer);
    const ids = [...blocks.keys()];
    if (!ids.length || !ds.pagesUrl) return;
    fetchPages(ds.pagesUrl, ids).then((answer) => {
      if (answer.stale) pagesTimer = setTimeout(refreshPages, RETRY_MS);
      if (answer.pages == null) return;
      pages = answer;
      if (pageCountEl) pageCountEl.textContent = `${answer.pages} page${answer.pages === 1 ? "" : "s"}`;
      container.dataset.pages = String(answer.pages);
      for (const block of blocks.values()) {
        applyPages(block);
        if (block.editor && block.editor.view.hasFocus) showCursorPage(block);
      }
    }).catch(() => {});
  }
  const refreshPagesSoon = () => { clearTimeout(pagesTimer); pagesTimer = setTimeout(refreshPages, PAGES_MS); };

  // --- the side column: the focused scene's panels (drafts) ------------------------------

  function showPanel(block) {
    const url = block.article.dataset.panelUrl;
    if (!side || !url || panelScene === block.id) return;
    panelScene = block.id;
    const seq = ++panelSeq;
    if (sideFor) {
      const num = block.article.querySelector(".num");
      sideFor.textContent = num ? `· scene ${num.textContent}` : "";
    }
    fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(async (response) => {
        const html = await response.text();
        if (seq !== panelSeq) return; // the focus has moved on meanwhile
        if (!response.ok) {
          panelScene = null;
          side.replaceChildren(el("p", { class: "small block-error", role: "alert" }, "This scene's drafts could not be loaded."));
          return;
        }
        if (window.htmx) window.htmx.swap(side, html, { swapStyle: "innerHTML", swapDelay: 0, settleDelay: 0 });
      })
      .catch(() => {
        if (seq !== panelSeq) return;
        panelScene = null; // the next focus tries again
        side.replaceChildren(el("p", { class: "small block-error", role: "alert" }, "This scene's drafts could not be loaded (no connection)."));
      });
  }

  /** The scene of the panel is gone (merged away, removed): empty the column. */
  function dropPanel(block) {
    if (!side || panelScene !== block.id) return;
    panelScene = null;
    panelSeq++;
    const note = el("p", { class: "muted small" }, "Click into a scene to see its drafts here.");
    if (window.htmx) window.htmx.swap(side, note.outerHTML, { swapStyle: "innerHTML", swapDelay: 0, settleDelay: 0 });
    else side.replaceChildren(note);
    if (sideFor) sideFor.textContent = "";
  }

  if (sideToggle && sideBox) {
    sideToggle.addEventListener("click", () => {
      const open = sideBox.classList.toggle("is-open");
      sideToggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // --- split and merge ------------------------------------------------------------------

  function split(block, lineFrom) {
    const editor = block.editor;
    if (!editor || block.splitting) return;
    block.splitting = true;
    const line = editor.view.state.doc.lineAt(lineFrom).text;
    post(block.article.dataset.splitUrl, { position: editor.relative(lineFrom, 0), line })
      .then(async (response) => {
        const data = await response.json().catch(() => ({}));
        if (!response.ok) { showError(block, data.error || "The scene could not be split."); return; }
        showError(block, "");
        const fresh = addBlock(data.scene, block.article);
        fresh.focusOnLive = true;
        mount(fresh);
        refreshPages();
      })
      .catch(() => showError(block, "The scene could not be split (no connection)."))
      .finally(() => { block.splitting = false; });
  }

  function merge(block) {
    if (block.merging) return;
    block.merging = true;
    // The text it shows: the server waits until its copy has it (keystrokes in flight).
    const shown = block.editor && block.editor.isLive() ? { text: block.editor.ytext.toString() } : {};
    post(block.article.dataset.mergeUrl, shown)
      .then(async (response) => {
        const data = await response.json().catch(() => ({}));
        if (!response.ok) { showError(block, data.error || "The scenes could not be merged."); return; }
        const into = blocks.get(String(data.into));
        removeBlock(block);
        if (into) {
          if (!into.editor) mount(into);
          into.focusOnLive = true;
          if (into.editor && into.editor.isLive()) focusEnd(into);
        }
        refreshPages();
        pollOutline();
      })
      .catch(() => showError(block, "The scenes could not be merged (no connection)."))
      .finally(() => { block.merging = false; });
  }

  /** The scene page's "Save version" (the server's live text becomes a revision). */
  function saveVersion(block) {
    const data = { label: "" };
    if (block.editor && block.editor.isLive()) data.text = block.editor.ytext.toString();
    post(block.article.dataset.versionUrl, data)
      .then((response) => showError(block, response.ok ? "" : "The version was not saved."))
      .catch(() => showError(block, "The version was not saved (no connection)."));
  }

  function focusEnd(block) {
    const view = block.editor.view;
    view.focus();
    view.dispatch({ selection: { anchor: view.state.doc.length } });
  }

  /** Watches the writer's line: a heading line they typed on and then left is a split. */
  function splitWatch(block) {
    let touched = null; // position (in this editor) of a line the writer typed on
    return EditorView.updateListener.of((u) => {
      if (!canEdit) return;
      const typed = u.transactions.some((tr) => tr.isUserEvent("input") || tr.isUserEvent("delete"));
      if (touched !== null && u.docChanged) touched = u.changes.mapPos(touched, -1);
      const doc = u.state.doc;
      const head = u.state.selection.main.head;
      if (typed) {
        const before = u.startState.selection.main.head;
        const was = u.changes.mapPos(before, -1);
        if (touched === null) touched = doc.lineAt(Math.min(was, doc.length)).from;
      }
      if (touched === null || !(u.selectionSet || u.docChanged)) return;
      const line = doc.lineAt(Math.min(touched, doc.length));
      if (doc.lineAt(head).number === line.number) return;
      touched = null;
      if (typed) {
        // Enter: the cursor left the line it typed on; mark the new line only if typed on.
        const cur = doc.lineAt(head);
        if (cur.length) touched = cur.from;
      }
      if (line.text.trim() && lineType(doc, line.number) === "scene") split(block, line.from);
    });
  }

  function mergeKey(block) {
    return Prec.highest(keymap.of([{
      key: "Backspace",
      run: (view) => {
        const sel = view.state.selection.main;
        const input = block.article.querySelector("input.block-heading");
        if (!canEdit || !sel.empty || sel.head !== 0 || !input || input.value.trim()) return false;
        if (!block.article.querySelector(".block-merge")) return false;
        merge(block);
        return true;
      },
    }]));
  }

  // --- blocks ---------------------------------------------------------------------------

  function wireHeading(block) {
    const input = block.article.querySelector("input.block-heading");
    if (!input) return;
    let saved = input.value;
    const save = () => {
      const heading = input.value.trim();
      if (!heading || heading === saved) return;
      post(block.article.dataset.headingUrl, { heading }).then(async (response) => {
        const data = await response.json().catch(() => ({}));
        if (!response.ok) { showError(block, data.error || "The heading was not saved."); return; }
        saved = data.heading;
        showError(block, "");
        refreshPagesSoon();
      }).catch(() => showError(block, "The heading was not saved (no connection)."));
    };
    input.addEventListener("change", save);
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        save();
        if (block.editor) block.editor.view.focus();
      } else if (e.key === "Backspace" && !input.value && block.article.querySelector(".block-merge")) {
        e.preventDefault();
        merge(block);
      }
    });
    block.setHeading = (heading) => {
      if (document.activeElement !== input && heading !== saved) { input.value = heading; saved = heading; }
    };
  }

  function register(article) {
    const block = { id: article.dataset.sceneId, article, editor: null, timer: null };
    blocks.set(block.id, block);
    wireHeading(block);
    const button = article.querySelector(".block-merge");
    if (button) button.addEventListener("click", () => merge(block));
    const version = article.querySelector(".block-version");
    if (version) version.addEventListener("click", () => saveVersion(block));
    // The focused block: its editor is the page's, its panel the side column's. A click
    // counts too: a viewer's read-only text takes no focus.
    const enter = () => {
      for (const b of blocks.values()) b.article.classList.toggle("is-focused", b === block);
      container.dataset.focusedScene = block.id;
      // Never another scene's editor: until this one is live there is none (onLive sets it).
      if (block.editor && block.editor.isLive()) window.cowriteEditor = block.editor;
      else delete window.cowriteEditor;
      showPanel(block);
    };
    article.addEventListener("focusin", enter);
    article.addEventListener("pointerdown", enter);
    observer.observe(article);
    return block;
  }

  /** A block for a scene the server just described (split, another view's change). */
  function addBlock(scene, after) {
    const article = el("article", {
      class: "script-block", id: `block-${scene.id}`, "data-scene-id": String(scene.id),
      "data-heading-url": scene.heading_url, "data-split-url": scene.split_url, "data-merge-url": scene.merge_url,
      "data-version-url": scene.version_url, "data-panel-url": scene.panel_url,
    });
    const marker = el("div", { class: "block-page-break" });
    marker.hidden = true;
    const head = el("div", { class: "block-head" });
    head.append(el("span", { class: "num", "aria-hidden": "true" }, String(scene.number)));
    if (canEdit) {
      const input = el("input", { class: "block-heading", "aria-label": `Scene ${scene.number} heading`, maxlength: "200" });
      input.value = scene.heading;
      head.append(input);
    } else {
      head.append(el("h2", { class: "block-heading" }, scene.heading));
    }
    head.append(el("a", { class: "small", href: scene.url }, "Scene page"));
    if (canEdit) {
      head.append(el("button", { type: "button", class: "link small block-version" }, "Save version"));
      head.append(el("button", { type: "button", class: "link small block-merge" }, "Merge with previous scene"));
    }
    const bar = el("div", { class: "block-bar small muted" });
    bar.append(el("div", { class: "block-presence" }), el("div", { class: "block-status" }), el("span", { class: "block-error", role: "alert" }));
    const body = el("div", { class: "block-editor" });
    body.append(el("pre", { class: "block-static" }, scene.text));
    article.append(marker, head, bar, body);
    if (after) after.after(article);
    else container.append(article);
    return register(article);
  }

  function unmount(block) {
    if (!block.editor) return;
    const text = block.editor.ytext.toString();
    if (window.cowriteEditor === block.editor) delete window.cowriteEditor;
    block.editor.destroy();
    block.editor = null;
    const host = block.article.querySelector(".block-editor");
    const fresh = el("div", { class: "block-editor" });
    fresh.append(el("pre", { class: "block-static" }, text));
    host.replaceWith(fresh);
    block.article.classList.remove("is-mounted");
  }

  function removeBlock(block) {
    observer.unobserve(block.article);
    dropPanel(block);
    unmount(block);
    block.article.remove();
    blocks.delete(block.id);
  }

  function mount(block) {
    if (block.editor) return;
    const host = block.article.querySelector(".block-editor");
    const pre = host.querySelector(".block-static");
    const initialText = pre ? pre.textContent : "";
    if (pre) pre.remove();
    block.article.classList.add("is-mounted");
    block.editor = mountEditor(host, {
      wsUrl: `${wsBase}/${block.id}`,
      room: "doc",
      userId: ds.userId,
      username: ds.username,
      canEdit,
      sceneId: block.id,
      hints,
      initialText,
      presenceEl: block.article.querySelector(".block-presence"),
      statusEl: block.article.querySelector(".block-status"),
      labelEl,
      extensions: [
        ...extensions,
        pageBreaks(),
        splitWatch(block),
        mergeKey(block),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) refreshPagesSoon();
          if (u.view.hasFocus && (u.selectionSet || u.docChanged || u.focusChanged)) showCursorPage(block);
        }),
      ],
      onLive: (api) => {
        applyPages(block);
        if (block.focusOnLive) {
          block.focusOnLive = false;
          api.view.focus();
          api.view.dispatch({ selection: { anchor: 0 } });
          window.cowriteEditor = api;
        } else if (container.dataset.focusedScene === block.id) {
          window.cowriteEditor = api; // focused before its first sync
        }
      },
    });
  }

  // Mount near the viewport; let go of blocks that stay far away.
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const block = blocks.get(entry.target.dataset.sceneId);
      if (!block) continue;
      clearTimeout(block.timer);
      if (entry.isIntersecting) mount(block);
      else if (block.editor) {
        block.timer = setTimeout(() => {
          if (!block.article.contains(document.activeElement)) unmount(block);
        }, UNMOUNT_MS);
      }
    }
  }, { rootMargin: MOUNT_MARGIN });

  // --- other views' changes ---------------------------------------------------------------

  let polling = false;
  function pollOutline() {
    if (polling || !ds.outlineUrl || document.hidden) return;
    polling = true;
    const params = new URLSearchParams({ from: ds.from || "" });
    if (outlineState) params.set("state", outlineState);
    fetch(`${ds.outlineUrl}?${params}`, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(async (response) => {
        if (response.status !== 200) return;
        const data = await response.json();
        const first = outlineState === null;
        outlineState = data.state;
        if (reconcile(data.scenes) || !first) refreshPages();
      })
      .catch(() => {})
      .finally(() => { polling = false; });
  }

  /** Make the blocks those scenes, in that order; say whether any came or went. */
  function reconcile(scenes) {
    let changed = false;
    const wanted = new Set(scenes.map((s) => String(s.id)));
    for (const block of [...blocks.values()]) {
      if (!wanted.has(block.id)) { removeBlock(block); changed = true; }
    }
    let previous = null;
    for (const scene of scenes) {
      let block = blocks.get(String(scene.id));
      if (!block) {
        block = addBlock(scene, previous);
        if (!previous) container.prepend(block.article);
        changed = true;
      } else {
        if (previous && previous.nextElementSibling !== block.article) { previous.after(block.article); changed = true; }
        if (block.setHeading) block.setHeading(scene.heading);
        const h2 = block.article.querySelector("h2.block-heading");
        if (h2) h2.textContent = scene.heading;
      }
      const num = block.article.querySelector(".num");
      if (num) num.textContent = String(scene.number);
      previous = block.article;
    }
    return changed;
  }

  for (const article of container.querySelectorAll(".script-block")) register(article);
  refreshPages();
  pollOutline();
  // Pushed: the story room says when scenes were added, removed, moved or renamed
  // (static/js/story.js fires story:script); the slow poll is the safety net for a
  // dropped socket.
  document.body.addEventListener("story:script", pollOutline);
  setInterval(pollOutline, OUTLINE_MS);
}
