// Unit tests for the element keys (Enter/Tab cycling) as pure functions on text + cursor.
// `node --test tests/js/`. "|" marks the cursor in the texts below.
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  elementAt, elementLabel, enterChange, tabChange, TRANSITION_TEXT,
} from "../../static/src/editor/elements.js";

const split = (marked) => {
  const pos = marked.indexOf("|");
  assert.ok(pos >= 0, "no cursor in " + marked);
  return [marked.slice(0, pos) + marked.slice(pos + 1), pos];
};
const show = (text, pos) => text.slice(0, pos) + "|" + text.slice(pos);
/** Apply a change (or a plain new line for null Enter); returns the marked text. */
function applied(text, change) {
  const out = text.slice(0, change.from) + change.insert + text.slice(change.to);
  return show(out, change.cursor);
}
function enter(marked, opts) {
  const [text, pos] = split(marked);
  const change = enterChange(text, pos, opts);
  return change ? applied(text, change) : show(text.slice(0, pos) + "\n" + text.slice(pos), pos + 1);
}
function tab(marked, dir = 1, opts) {
  const [text, pos] = split(marked);
  const change = tabChange(text, pos, dir, opts);
  if (!change) return null;
  return { text: applied(text, change), cue: change.cue };
}
const label = (marked, opts) => {
  const [text, pos] = split(marked);
  return elementLabel(text, pos, opts);
};

test("Enter after a scene heading or action starts a new action paragraph", () => {
  assert.equal(enter("INT. HOUSE - DAY|"), "INT. HOUSE - DAY\n\n|");
  assert.equal(enter("INT. HOUSE - DAY\n\nShe waits.|"), "INT. HOUSE - DAY\n\nShe waits.\n\n|");
  assert.equal(label("INT. HOUSE - DAY\n\n|"), "Action");
});

test("Enter in the middle of a line, or on an empty line, is a plain new line", () => {
  assert.equal(enter("She| waits."), "She\n| waits.");
  assert.equal(enter("She waits.\n|"), "She waits.\n\n|");
  assert.equal(enter("|Lights up."), "\n|Lights up.");
});

test("Enter after a cue goes to dialogue; after dialogue it ends the speech", () => {
  assert.equal(enter("Rain.\n\nALICE|"), "Rain.\n\nALICE\n|");
  assert.equal(label("Rain.\n\nALICE\n|"), "Dialogue");
  assert.equal(label("Rain.\n\nALICE (V.O.)\n|"), "Dialogue");
  assert.equal(enter("Rain.\n\nALICE\nHello.|"), "Rain.\n\nALICE\nHello.\n\n|");
  assert.equal(label("Rain.\n\nALICE\nHello.\n\n|"), "Action");
});

test("Tab in dialogue writes a parenthetical with the cursor inside; Enter returns to dialogue", () => {
  assert.deepEqual(tab("\nALICE\n|"), { text: "\nALICE\n(|)", cue: false });
  assert.deepEqual(tab("\nALICE\nHello.|"), { text: "\nALICE\nHello.\n(|)", cue: false });
  assert.equal(label("\nALICE\n(|)"), "Parenthetical");
  assert.equal(enter("\nALICE\n(quietly|)"), "\nALICE\n(quietly)\n|");
  assert.equal(enter("\nALICE\n(quietly)|"), "\nALICE\n(quietly)\n|");
  assert.equal(label("\nALICE\n(quietly)\n|"), "Dialogue");
  // Tab on a cue with a name: a parenthetical under it.
  assert.deepEqual(tab("\nALICE|"), { text: "\nALICE\n(|)", cue: false });
  // An empty parenthetical goes away with Tab or Shift+Tab.
  assert.deepEqual(tab("\nALICE\n(|)"), { text: "\nALICE\n|", cue: false });
  assert.deepEqual(tab("\nALICE\n(|)", -1), { text: "\nALICE\n|", cue: false });
  // Shift+Tab on an empty dialogue line goes back to the cue.
  assert.deepEqual(tab("\nALICE\n|", -1), { text: "\nALICE|", cue: false });
});

test("Tab cycles an empty action line: action -> character -> transition -> action", () => {
  const start = "She waits.\n\n|";
  const one = tab(start);
  assert.deepEqual(one, { text: start, cue: true }); // nothing inserted, the line is marked
  assert.equal(label(start, { cue: true }), "Character");
  assert.equal(label(start), "Action");
  const two = tab(start, 1, { cue: true });
  assert.deepEqual(two, { text: `She waits.\n\n${TRANSITION_TEXT}|`, cue: false });
  assert.equal(label(two.text), "Transition");
  const three = tab(two.text);
  assert.deepEqual(three, { text: start, cue: false });
});

test("Shift+Tab cycles back: action -> transition -> character -> action", () => {
  const start = "She waits.\n\n|";
  const one = tab(start, -1);
  assert.deepEqual(one, { text: `She waits.\n\n${TRANSITION_TEXT}|`, cue: false });
  const two = tab(one.text, -1);
  assert.deepEqual(two, { text: start, cue: true });
  const three = tab(start, -1, { cue: true });
  assert.deepEqual(three, { text: start, cue: false });
});

test("Tab right under a non-blank line first adds the blank line a cue needs", () => {
  assert.deepEqual(tab("She waits.\n|"), { text: "She waits.\n\n|", cue: true });
  assert.deepEqual(tab("INT. HOUSE - DAY\n|", -1), { text: `INT. HOUSE - DAY\n\n${TRANSITION_TEXT}|`, cue: false });
  assert.deepEqual(tab("|"), { text: "|", cue: true }); // start of the text
});

test("Tab on an empty line after a speech gives a cue again", () => {
  const after = enter("\nALICE\nHello.|");
  assert.deepEqual(tab(after), { text: after, cue: true });
});

test("Enter after a transition starts a new paragraph; labels follow the grammar", () => {
  assert.equal(enter("Rain.\n\nCUT TO:|"), "Rain.\n\nCUT TO:\n\n|");
  assert.equal(label("\nINT. HOUSE - DAY|"), "Scene heading");
  assert.equal(label("\n.FLASHBACK|"), "Scene heading");
  assert.equal(label("\nBOB|"), "Character");
  assert.equal(label("\nBob waits|"), "Action");
  assert.equal(label("\n# Act one|"), "Section");
  assert.equal(elementAt("\nBOB\n(softly)\nHi.", 14), "dialogue");
  assert.equal(elementAt("\nBOB\n(softly)\nHi.", 8), "parenthetical");
});

test("Tab on other lines does nothing", () => {
  assert.equal(tab("\nINT. HOUSE - DAY|"), null);
  assert.equal(tab("\nShe waits.|"), null);
  assert.equal(tab("\nALICE|", -1), null);
});
