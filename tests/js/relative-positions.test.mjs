// The relative-position fixture the server's resolver is tested with
// (tests/fixtures/yjs_relative_positions.json, tests/scripts_app/test_positions.py) is
// what this Yjs makes: regenerate it and compare.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { fixture } from "../support/yjs_relative_positions.mjs";

test("the relative-position fixture is Yjs's own output", () => {
  const stored = JSON.parse(readFileSync(new URL("../fixtures/yjs_relative_positions.json", import.meta.url)));
  assert.deepEqual(fixture(), stored);
});
