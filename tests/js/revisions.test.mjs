// `node --test tests/js/`: the editor's production revision marks (static/src/editor/revisions.js).
import test from "node:test";
import assert from "node:assert/strict";
import { lineMarks } from "../../static/src/editor/revisions.js";

const issued = [["Alarms pulse.", null], ["", null], ["MARA", 1], ["It's holding.", 1], ["", null], ["She runs.", null]];

test("unchanged lines keep their mark, changed and new ones get the open revision", () => {
  const now = ["Alarms pulse.", "", "MARA", "It's not holding.", "", "She runs.", "", "JONAH", "Go!"];
  assert.deepEqual(lineMarks(now, issued, 2), [null, null, 1, 2, null, null, null, 2, 2]);
});

test("blank lines and trailing spaces never make a mark", () => {
  assert.deepEqual(lineMarks(["Alarms pulse.   ", "", "", "She runs."], issued, 2), [null, null, null, null]);
});

test("moved lines: the longest common run keeps its marks, the rest is revised", () => {
  const now = ["She runs.", "Alarms pulse.", "MARA", "It's holding."];
  const marks = lineMarks(now, issued, 2);
  assert.deepEqual(marks.slice(1), [null, 1, 1]);
  assert.equal(marks[0], 2);
});

test("big scenes fall back to matching lines by count", () => {
  const old = Array.from({ length: 2500 }, (_, i) => [`Line ${i}`, i % 2 ? 1 : null]);
  const now = old.map(([t]) => t);
  now[10] = "Changed";
  const marks = lineMarks(now, old, 3);
  assert.equal(marks[10], 3);
  assert.equal(marks[11], 1);
  assert.equal(marks[12], null);
});

test("nothing issued for the scene: every written line is revised", () => {
  assert.deepEqual(lineMarks(["A new scene.", ""], [], 1), [1, null]);
});
