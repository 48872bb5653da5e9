// `node --test tests/js/`: remote presence states are checked before they are drawn.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanUser, safeColor, sanitizeRemoteStates, FALLBACK_COLOR } from "../../static/src/editor/presence.js";

test("only a strict #rrggbb colour is kept", () => {
  assert.equal(safeColor("#1F6FB2"), "#1f6fb2");
  for (const bad of ["red; position:fixed; inset:0", "#fff", "#1f6fb2; x", "url(x)", 7, null, undefined, {}]) {
    assert.equal(safeColor(bad), FALLBACK_COLOR, String(bad));
  }
});

test("a hostile user field is reduced to checked strings", () => {
  const u = cleanUser({ name: "x".repeat(10000), color: "red; position:fixed", colorLight: "blue; top:0", id: { a: 1 }, canEdit: "yes", extra: "<img>" });
  assert.equal(u.name.length, 80);
  assert.equal(u.color, FALLBACK_COLOR);
  assert.equal(u.colorLight, FALLBACK_COLOR + "33");
  assert.equal(u.id, "");
  assert.equal(u.canEdit, false);
  assert.equal("extra" in u, false);
  assert.equal(cleanUser({ name: 42 }).name, "Anonymous");
  assert.equal(cleanUser({ color: "#00796b", colorLight: "#00796b33" }).colorLight, "#00796b33");
});

test("remote states are cleaned in place, the local one left alone", () => {
  const mine = { user: { name: "me", color: "#1f6fb2" } };
  const theirs = { user: { name: "them", color: "red; position:fixed" }, cursor: null };
  const awareness = { clientID: 1, states: new Map([[1, mine], [2, theirs]]) };
  sanitizeRemoteStates(awareness, [1, 2, 3]);
  assert.equal(awareness.states.get(2).user.color, FALLBACK_COLOR);
  assert.equal(awareness.states.get(1), mine);
});
