/*
 * The writer's desk: Enter and Tab move between screenplay elements, as in Final Draft or
 * WriterDuet, while the text stays plain Fountain. Nothing invisible is ever inserted: the
 * element of a line is what the Fountain grammar (./fountain-mode.js, the mirror of
 * scripts_app/formats/grammar.py) reads from the text. Every change is one ordinary
 * CodeMirror transaction, so Yjs syncs it like typing.
 *
 * THE RULES (docs/shortcuts.md repeats them). "At the end" = only spaces after the cursor.
 *
 * Enter (cursor at the end of a non-empty line, nothing selected):
 *   scene heading, action, transition  -> "\n\n": a blank line, then a new action paragraph
 *   character cue                      -> "\n": dialogue
 *   dialogue                           -> "\n\n": the speech ends; a new action paragraph
 *   parenthetical (cursor at the end or just before its ")") -> "\n" after the line: dialogue
 *   anything else (section, note, …), an empty line, a selection, text after the cursor
 *                                      -> a plain new line
 * Shift+Enter: always a plain new line (a second line in the same paragraph or speech).
 *
 * Tab / Shift+Tab cycle action -> character -> transition -> action (Shift+Tab: backwards):
 *   empty line outside a speech (action): Tab -> character: the line is marked as a cue
 *       (nothing is inserted; letters typed on it come out in capitals; the mark goes when
 *       the cursor leaves the line); Shift+Tab -> transition: "CUT TO:" is written.
 *       If the line above is not blank, a new line is inserted first (a cue or a
 *       transition needs a blank line before it).
 *   empty marked cue line: Tab -> transition ("CUT TO:"); Shift+Tab -> action (unmarked).
 *   a line that is just "CUT TO:" (transition): Tab -> action (the line is emptied);
 *       Shift+Tab -> character (emptied and marked).
 *   character cue with text: Tab -> a parenthetical "()" on a new line, cursor inside.
 *   dialogue: Tab -> "()" with the cursor inside (on this line if it is empty, else on a
 *       new line after it); Shift+Tab on an empty dialogue line removes it (back to the
 *       line above: the cue, parenthetical or dialogue).
 *   parenthetical: "()" (empty): Tab or Shift+Tab removes it (dialogue); with text: Tab
 *       -> a new dialogue line after it.
 *   otherwise Tab does nothing (it does not leave the editor: Esc then Tab does).
 * An empty line after a speech is an action line again, so Tab there gives a cue.
 *
 * The functions below are pure (text + cursor in, a change out) for tests/js/elements.test.mjs;
 * `elementKeys()` wires them into CodeMirror.
 */
import { StateField, StateEffect, Prec, EditorSelection } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";

import { classifyLine, scanLine, startState } from "./fountain-mode.js";

export const TRANSITION_TEXT = "CUT TO:";

/** The label shown for a Fountain line type (the status area names the current element). */
export const ELEMENT_LABELS = Object.freeze({
  scene: "Scene heading",
  action: "Action",
  character: "Character",
  dialogue: "Dialogue",
  parenthetical: "Parenthetical",
  transition: "Transition",
  centered: "Centered",
  section: "Section",
  synopsis: "Synopsis",
  pagebreak: "Page break",
  lyrics: "Lyrics",
  note: "Note",
  boneyard: "Boneyard",
  blank: "Action",
});

const isBlank = (s) => s == null || s.trim() === "";

/** Where `pos` is: the lines, the cursor's line index, its column and the line's offset. */
function locate(text, pos) {
  const lines = text.split("\n");
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    const end = offset + lines[i].length;
    if (pos <= end || i === lines.length - 1) return { lines, index: i, col: pos - offset, from: offset, to: end };
    offset = end + 1;
  }
  return { lines, index: 0, col: 0, from: 0, to: 0 };
}

/**
 * The element of the cursor's line and the Fountain state before it.
 *
 * Lines above are read as the Fountain mode reads them, with look-ahead, except that the
 * cursor's line, when empty, counts as "about to be typed": the line above is read
 * tentatively (as the highlighter does while you type), so a cue followed by the empty
 * line you are on is still a cue. The cursor's line itself is read tentatively too.
 * An empty line is what typing there would make: dialogue inside a speech, else action
 * (character when marked as a cue by Tab).
 */
export function elementAt(text, pos, { cue = false } = {}) {
  const { lines, index } = locate(text, pos);
  const current = lines[index];
  const state = startState();
  for (let i = 0; i < index; i++) {
    let next = lines[i + 1];
    if (i + 1 === index && isBlank(current)) next = undefined;
    scanLine(lines[i], state, next);
  }
  const inSpeech = state.dialogue && !state.prevBlank;
  if (isBlank(current) && current !== "  ") {
    if (inSpeech) return "dialogue";
    if (state.boneyard) return "boneyard";
    if (state.note) return "note";
    return cue ? "character" : "action";
  }
  return classifyLine(current, state, undefined);
}

/** The label ("Action", "Character", …) of the element at `pos`. */
export function elementLabel(text, pos, opts) {
  return ELEMENT_LABELS[elementAt(text, pos, opts)] || "Action";
}

/**
 * What Enter does at `pos` (an empty selection): `{from, to, insert, cursor}` or null for
 * a plain new line. See the rules in the header.
 */
export function enterChange(text, pos, opts = {}) {
  const { lines, index, col, from, to } = locate(text, pos);
  const line = lines[index];
  if (isBlank(line)) return null;
  const after = line.slice(col);
  const type = elementAt(text, pos, opts);
  if (type === "parenthetical" && (after.trim() === "" || after.trim() === ")")) {
    return { from: to, to, insert: "\n", cursor: to + 1 };
  }
  if (after.trim() !== "") return null;
  if (type === "character") return { from: pos, to: pos, insert: "\n", cursor: pos + 1 };
  if (type === "scene" || type === "action" || type === "transition" || type === "dialogue") {
    return { from: pos, to: pos, insert: "\n\n", cursor: pos + 2 };
  }
  return null;
}

/**
 * What Tab (dir = 1) or Shift+Tab (dir = -1) does at `pos` with the cue mark `cue`:
 * `{from, to, insert, cursor, cue}` (`cue`: whether the cursor's line is then marked) or
 * null when it does nothing. A change with from === to and insert "" changes no text.
 */
export function tabChange(text, pos, dir = 1, { cue = false } = {}) {
  const { lines, index, from, to } = locate(text, pos);
  const line = lines[index];
  const type = elementAt(text, pos, { cue });
  const keep = (c) => ({ from: pos, to: pos, insert: "", cursor: pos, cue: c });
  const replaceLine = (insert, cursorOffset, c = false) =>
    ({ from, to, insert, cursor: from + cursorOffset, cue: c });

  if (isBlank(line) && (type === "action" || type === "character")) {
    const target = cyclePosition(type, dir);
    // A cue or transition needs a blank line above it.
    const needsBlank = target !== "action" && index > 0 && !isBlank(lines[index - 1]);
    const lead = needsBlank ? "\n" : "";
    if (target === "character") {
      if (!lead && line === "") return keep(true);
      return replaceLine(lead, lead.length, true);
    }
    if (target === "transition") return replaceLine(lead + TRANSITION_TEXT, lead.length + TRANSITION_TEXT.length);
    return keep(false); // back to action: just drop the mark
  }
  if (line.trim() === TRANSITION_TEXT && type === "transition") {
    const target = cyclePosition("transition", dir);
    return replaceLine("", 0, target === "character");
  }
  if (type === "character" && dir > 0) {
    return { from: to, to, insert: "\n()", cursor: to + 2, cue: false };
  }
  if (type === "dialogue") {
    if (dir > 0) {
      if (isBlank(line)) return replaceLine("()", 1);
      return { from: to, to, insert: "\n()", cursor: to + 2, cue: false };
    }
    if (isBlank(line) && index > 0) return { from: from - 1, to, insert: "", cursor: from - 1, cue: false };
    return null;
  }
  if (type === "parenthetical") {
    if (line.trim() === "()") return replaceLine("", 0);
    if (dir > 0) return { from: to, to, insert: "\n", cursor: to + 1, cue: false };
    return null;
  }
  return null;
}

const CYCLE = ["action", "character", "transition"];
function cyclePosition(type, dir) {
  const i = CYCLE.indexOf(type);
  return CYCLE[(i + (dir > 0 ? 1 : CYCLE.length - 1)) % CYCLE.length];
}

// --- CodeMirror wiring ----------------------------------------------------------------------

const setCue = StateEffect.define();

/** The start of the line marked as a cue by Tab (null: none). Follows edits (also remote). */
export const cueMark = StateField.define({
  create: () => null,
  update(value, tr) {
    if (value != null && tr.docChanged) value = tr.changes.mapPos(value, -1);
    for (const e of tr.effects) if (e.is(setCue)) value = e.value; // already in the new text
    if (value == null) return value;
    const doc = tr.state.doc;
    if (value > doc.length) return null;
    const head = tr.state.selection.main.head;
    // The mark lasts while the cursor stays on the marked line.
    if (doc.lineAt(head).from !== doc.lineAt(value).from) return null;
    return value;
  },
});

const hasCue = (state) => state.field(cueMark, false) != null;

function run(view, change) {
  if (!change) return false;
  const { from, to, insert, cursor } = change;
  const spec = {
    selection: EditorSelection.cursor(cursor),
    scrollIntoView: true,
    userEvent: "input",
  };
  if (from !== to || insert) spec.changes = { from, to, insert };
  // The marked line starts after the last new line inserted (or where the change starts).
  spec.effects = setCue.of(change.cue ? from + insert.lastIndexOf("\n") + 1 : null);
  view.dispatch(spec);
  return true;
}

function enter(view) {
  const { state } = view;
  if (state.readOnly || state.selection.ranges.length > 1 || !state.selection.main.empty) return false;
  const pos = state.selection.main.head;
  const change = enterChange(state.doc.toString(), pos, { cue: hasCue(state) });
  if (!change) return plainNewline(view);
  return run(view, { ...change, cue: false });
}

function plainNewline(view) {
  if (view.state.readOnly) return false;
  view.dispatch(view.state.update(view.state.replaceSelection("\n"), { scrollIntoView: true, userEvent: "input" }));
  return true;
}

const tab = (dir) => (view) => {
  const { state } = view;
  if (state.readOnly) return false;
  if (state.selection.ranges.length > 1 || !state.selection.main.empty) return true;
  const change = tabChange(state.doc.toString(), state.selection.main.head, dir, { cue: hasCue(state) });
  if (change) run(view, change);
  return true; // Tab never leaves the editor silently (Esc then Tab does)
};

/** While a line is marked as a cue, letters typed on it come out in capitals. */
const upperCaseCue = EditorView.inputHandler.of((view, from, to, text) => {
  const mark = view.state.field(cueMark, false);
  if (mark == null || text.toUpperCase() === text) return false;
  const doc = view.state.doc;
  if (doc.lineAt(from).from !== doc.lineAt(mark).from || text.includes("\n")) return false;
  const upper = text.toUpperCase();
  view.dispatch({
    changes: { from, to, insert: upper },
    selection: EditorSelection.cursor(from + upper.length),
    userEvent: "input.type",
  });
  return true;
});

/**
 * The element keys (Enter, Shift+Enter, Tab, Shift+Tab), the cue mark and, when `labelEl`
 * is given, the current element's name written into it.
 */
export function elementKeys({ labelEl = null } = {}) {
  const exts = [
    cueMark,
    upperCaseCue,
    Prec.high(keymap.of([
      { key: "Enter", run: enter, shift: plainNewline },
      { key: "Tab", run: tab(1), shift: tab(-1) },
    ])),
  ];
  if (labelEl) {
    let last = "";
    const show = (state) => {
      const text = elementLabel(state.doc.toString(), state.selection.main.head, { cue: hasCue(state) });
      if (text !== last) {
        last = text;
        labelEl.textContent = text;
      }
      labelEl.hidden = false;
    };
    exts.push(EditorView.updateListener.of((u) => {
      if (u.docChanged || u.selectionSet || u.transactions.some((t) => t.effects.length)) show(u.state);
    }));
    labelEl.title = "Current screenplay element (Tab / Shift+Tab to change it)";
  }
  return exts;
}
