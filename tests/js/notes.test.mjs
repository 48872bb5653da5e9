// Notes on the text (static/src/editor/notes.js): the browser finds each note's words in
// the scene's Y.Text from the base64 relative positions the server stores, while others
// type before, inside and after them; a note whose words are gone is left out.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as Y from "yjs";

import { resolveNotes, fromBase64 } from "../../static/src/editor/notes.js";

const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const rel = (ytext, index, assoc) =>
  b64(Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(ytext, index, assoc)));

function noteOn(ytext, words, id = 1) {
  const from = ytext.toString().indexOf(words);
  return { id, start: rel(ytext, from, 0), end: rel(ytext, from + words.length, -1) };
}

const words = (ytext, n) => ytext.toString().slice(n.from, n.to);

test("base64 decodes to the bytes", () => {
  assert.deepEqual([...fromBase64(b64([0, 1, 255, 65]))], [0, 1, 255, 65]);
});

test("a note follows its words through edits on two replicas", () => {
  const a = new Y.Doc();
  const b = new Y.Doc();
  a.on("update", (u) => Y.applyUpdate(b, u));
  b.on("update", (u) => Y.applyUpdate(a, u));
  const ta = a.getText("text");
  const tb = b.getText("text");
  ta.insert(0, "The door creaks open.\n\nMARA\nWho’s there? 🚪\n");
  const note = noteOn(ta, "creaks open");
  tb.insert(0, "Rain. ");
  assert.equal(words(tb, resolveNotes(tb, [note])[0]), "creaks open");
  const at = tb.toString().indexOf("open");
  tb.insert(at, "slowly ");
  assert.equal(words(ta, resolveNotes(ta, [note])[0]), "creaks slowly open");
  // Typing right after the last word stays outside.
  const end = ta.toString().indexOf(".", at);
  ta.insert(end, "!!");
  assert.equal(words(tb, resolveNotes(tb, [note])[0]), "creaks slowly open");
});

test("a note whose words are deleted is left out; others stay, sorted", () => {
  const doc = new Y.Doc();
  const t = doc.getText("text");
  t.insert(0, "One two three four.");
  const late = noteOn(t, "four", 2);
  const gone = noteOn(t, "two", 1);
  t.delete(t.toString().indexOf("two"), 3);
  const found = resolveNotes(t, [late, gone, { id: 3, start: "!!", end: "??" }]);
  assert.deepEqual(found.map((n) => n.id), [2]);
  assert.equal(words(t, found[0]), "four");
});

test("positions from another document are not found", () => {
  const one = new Y.Doc();
  const two = new Y.Doc();
  one.getText("text").insert(0, "Hello there");
  two.getText("text").insert(0, "Hello there");
  const note = noteOn(one.getText("text"), "there");
  assert.deepEqual(resolveNotes(two.getText("text"), [note]), []);
});
