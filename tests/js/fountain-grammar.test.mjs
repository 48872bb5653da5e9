// The shared Fountain vectors (tests/fixtures/fountain_grammar.json) against the editor's
// line classifier; tests/scripts_app/formats/test_grammar_vectors.py runs the same file
// against scripts_app/formats/grammar.py and the parser. `node --test tests/js/`
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { classifyLines, cueName, stripInline } from "../../static/src/editor/fountain-mode.js";

const vectors = JSON.parse(
  readFileSync(new URL("../fixtures/fountain_grammar.json", import.meta.url), "utf8"),
);

// The editor's line types, named as the grammar's elements.
const ELEMENT = { scene: "scene_heading", pagebreak: "page_break" };
const element = (type) => ELEMENT[type] ?? type;

test("there are enough vectors", () => {
  assert.ok(vectors.length >= 40);
});

for (const { lines, index, expect, why, name } of vectors) {
  test(`${expect}: ${JSON.stringify(lines[index])} (${why})`, () => {
    assert.equal(element(classifyLines(lines)[index]), expect);
    if (name !== undefined) {
      assert.equal(cueName(stripInline(lines[index]).text).replace(/^@/, ""), name);
    }
  });
}
