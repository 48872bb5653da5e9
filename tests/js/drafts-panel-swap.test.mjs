// `node --test tests/js/`: static/js/drafts.js serves a panel that comes after the page
// loaded and is replaced by another scene's (the whole-script view's side column), without a
// browser: the script runs against a minimal stand-in for the page and htmx
// (tests/browser/test_script_view_drafts.py drives the real thing).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

const SOURCE = readFileSync(new URL("../../static/js/drafts.js", import.meta.url), "utf8");

function target() {
  const handlers = {};
  return {
    handlers,
    addEventListener(type, fn) { (handlers[type] ||= []).push(fn); },
    fire(type, event) { for (const fn of handlers[type] || []) fn(event); },
  };
}

function stage() {
  const observers = [];
  const elements = {};
  const body = target();
  body.dispatched = [];
  body.dispatchEvent = (event) => body.dispatched.push(event.type);
  const doc = target();
  const document = {
    addEventListener: doc.addEventListener,
    body,
    getElementById: (id) => elements[id] || null,
    querySelector: () => null,
  };
  class MutationObserver {
    constructor(callback) { this.callback = callback; observers.push(this); }
    observe(node, options) { this.target = node; this.options = options; }
  }
  let onLoad = null;
  const window = { htmx: { onLoad: (fn) => { onLoad = fn; }, trigger() {} } };
  const context = vm.createContext({
    document, window, htmx: window.htmx, MutationObserver, console,
    CustomEvent: class { constructor(type) { this.type = type; } },
  });
  vm.runInContext(SOURCE, context);

  /** What the side column's swap does: the scene's panel replaces what was there. */
  function bring(sceneId, { live = false } = {}) {
    for (const key of Object.keys(elements)) delete elements[key];
    const list = { id: "drafts-list", querySelector: () => null };
    const panel = {
      id: "drafts-panel",
      isConnected: true,
      dataset: { sceneId: String(sceneId) },
      // A card still queued or streaming when the page was rendered.
      querySelector: (sel) => (live && sel.includes("status-streaming") ? { live: true } : null),
    };
    Object.assign(elements, {
      "drafts-panel": panel,
      "drafts-list": list,
      "room-status": { textContent: "" },
      "no-drafts": { hidden: false },
    });
    const wrapper = { id: "script-side-scene", querySelector: (sel) => (sel === "#drafts-panel" ? panel : null) };
    onLoad(wrapper);
    return { panel, list };
  }
  return { observers, elements, body, window, bring, loaded: () => onLoad !== null };
}

test("a page without a panel at load sets up each panel htmx brings later", () => {
  const s = stage();
  assert.ok(s.loaded(), "drafts.js listens for htmx:load");
  assert.equal(s.observers.length, 0);
  const two = s.bring(2);
  assert.deepEqual(s.observers.map((o) => o.target), [two.list]);
  const three = s.bring(3);
  assert.deepEqual(s.observers.map((o) => o.target), [two.list, three.list]);
  s.bring(3); // htmx:load again for elements already set up: nothing doubles
  assert.equal(s.observers.length, 3); // a new panel object each time (as htmx makes)
});

test("only the panel's own socket reports on its status line", () => {
  const s = stage();
  const { panel } = s.bring(2);
  const story = { id: "", isConnected: true };
  s.body.fire("htmx:wsOpen", { target: story });
  assert.equal(s.elements["room-status"].textContent, "");
  s.body.fire("htmx:wsOpen", { target: panel });
  assert.equal(s.elements["room-status"].textContent, "Live");
  s.body.fire("htmx:wsClose", { target: { id: "drafts-panel", isConnected: false } }); // a replaced panel's
  assert.equal(s.elements["room-status"].textContent, "Live");
  s.body.fire("htmx:wsClose", { target: panel });
  assert.match(s.elements["room-status"].textContent, /Disconnected/);
});

test("a first open re-fetches the cards only when one was still running at render", () => {
  const s = stage();
  const quiet = s.bring(2).panel;
  s.body.fire("htmx:wsOpen", { target: quiet });
  assert.deepEqual(s.body.dispatched, []); // nothing could have been missed
  const running = s.bring(3, { live: true }).panel;
  s.body.fire("htmx:wsOpen", { target: running });
  // It may have finished between the render and the socket's subscription.
  assert.deepEqual(s.body.dispatched, ["cowrite:refresh-drafts"]);
  s.body.fire("htmx:wsClose", { target: quiet });
  s.body.fire("htmx:wsOpen", { target: quiet }); // a reconnect always re-fetches
  assert.deepEqual(s.body.dispatched, ["cowrite:refresh-drafts", "cowrite:refresh-drafts"]);
});

test("a request never takes another scene's cursor", () => {
  const s = stage();
  s.bring(3);
  const place = () => ({ placed: true, atEnd: false, empty: true, cursorAt: 4, cursor: "CUR" });
  const ask = () => {
    const parameters = { action: "draft_request", mode: "continue" };
    s.body.fire("htmx:wsConfigSend", { detail: { parameters } });
    return parameters;
  };
  s.window.cowriteEditor = { view: {}, place, sceneId: "2" }; // scene 2's editor
  assert.equal(ask().anchor_start, "");
  s.window.cowriteEditor = { view: {}, place, sceneId: "3" };
  assert.equal(ask().anchor_start, "CUR");
  assert.equal(ask().selection_start, "4");
});
