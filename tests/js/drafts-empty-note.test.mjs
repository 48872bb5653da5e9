// `node --test tests/js/`: the drafts panel's "No drafts for this scene yet." hides when the
// first request's cards arrive live (static/js/drafts.js), without a browser: the script
// runs against a minimal stand-in for the page (the browser test drives the real thing).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

const SOURCE = readFileSync(new URL("../../static/js/drafts.js", import.meta.url), "utf8");

function page({ groups = 0, note = true } = {}) {
  const listeners = () => ({ addEventListener() {} });
  const observers = [];
  const list = {
    id: "drafts-list",
    groups,
    querySelector(sel) {
      return sel === ".draft-group" && this.groups > 0 ? { className: "draft-group" } : null;
    },
  };
  const elements = {
    "drafts-panel": { id: "drafts-panel" },
    "drafts-list": list,
    "room-status": { textContent: "" },
    "no-drafts": note ? { id: "no-drafts", hidden: false } : null,
  };
  const document = {
    ...listeners(),
    body: listeners(),
    getElementById: (id) => elements[id] || null,
    querySelector: () => null,
  };
  class MutationObserver {
    constructor(callback) { this.callback = callback; observers.push(this); }
    observe(target, options) { this.target = target; this.options = options; }
  }
  const context = vm.createContext({ document, window: {}, MutationObserver, console });
  vm.runInContext(SOURCE, context);
  // What htmx does when the room sends a new request's cards: inserts them at the top of
  // #drafts-list (hx-swap-oob="afterbegin:#drafts-list").
  const arrive = (n = 1) => {
    list.groups += n;
    for (const o of observers.filter((o) => o.target === list)) {
      o.callback([{ type: "childList", target: list, addedNodes: [], removedNodes: [] }]);
    }
  };
  const delta = () => {
    for (const o of observers.filter((o) => o.target === list)) {
      o.callback([{ type: "childList", target: { id: "passage-1-text" }, addedNodes: [], removedNodes: [] }]);
    }
  };
  return { note: elements["no-drafts"], list, arrive, delta, observers };
}

test("the empty note shows while there are no drafts", () => {
  const p = page();
  assert.equal(p.note.hidden, false);
  p.delta(); // something elsewhere in the panel changed: still no card
  assert.equal(p.note.hidden, false);
});

test("the first card arriving live hides the note, and more cards keep it hidden", () => {
  const p = page();
  assert.ok(p.observers.some((o) => o.target === p.list && o.options.childList && o.options.subtree));
  p.arrive();
  assert.equal(p.note.hidden, true);
  p.arrive(2);
  p.delta();
  assert.equal(p.note.hidden, true);
});

test("a page that loads with cards and a stray note hides it at once", () => {
  const p = page({ groups: 1 });
  assert.equal(p.note.hidden, true);
});

test("no note on the page: nothing to do, nothing breaks", () => {
  const p = page({ groups: 1, note: false });
  p.arrive();
  assert.equal(p.note, null);
});
