// The editor's automatic (CONT'D) follows the printed pages' rule (pagination.auto_contd).
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { contdLines, hasContd } from "../../static/src/editor/contd.js";

// The same scene the printed pages' rule is tested on (tests/scripts_app/test_auto_contd.py).
const SCENE = readFileSync(new URL("../fixtures/auto_contd_scene.fountain", import.meta.url), "utf8");

test("only a speaker who returns after action gets it", () => {
  const lines = SCENE.split("\n");
  assert.deepEqual(contdLines(lines).map((i) => lines[i]), ["JOHN", "JOHN (V.O.)"]);
});

test("a transition or a new heading starts afresh", () => {
  const lines = "JOHN\nOne.\n\nHe sits.\n\nCUT TO:\n\nJOHN\nTwo.\n".split("\n");
  assert.deepEqual(contdLines(lines), []);
});

test("any spelling of CONT'D counts", () => {
  for (const cue of ["JOHN (CONT’D)", "ann (cont'd)", "BOB (O.S., CONT'D)", "X (CONTINUED)"]) {
    assert.ok(hasContd(cue), cue);
  }
  assert.ok(!hasContd("JOHN (V.O.)"));
});
