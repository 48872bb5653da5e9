// Unit tests for the Fountain tokenizer: `node --test tests/js/`
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  classifyLines, tokenizeLines, cueName, stripInline, startState, copyState, token, blankLine,
} from "../../static/src/editor/fountain-mode.js";

const types = (text) => classifyLines(text.split("\n"));
const styleOf = (tokens, text) => {
  const hit = tokens.find(([t]) => t.includes(text));
  return hit ? hit[1] : undefined;
};

test("scene headings: INT./EXT./EST./INT./EXT./I/E and forced dot", () => {
  const lines = [
    "INT. KITCHEN - NIGHT", "", "EXT. ROOF - DAY", "", "EST. CITY", "",
    "INT./EXT. CAR - MOVING", "", "I/E TRAIN", "", "int. lowercase works", "",
    ".SNIPER SCOPE POV", "", "INTERIOR MONOLOGUE is action", "", "...and more dots",
  ];
  assert.deepEqual(classifyLines(lines), [
    "scene", "blank", "scene", "blank", "scene", "blank", "scene", "blank",
    "scene", "blank", "scene", "blank", "scene", "blank", "action", "blank", "action",
  ]);
  const toks = tokenizeLines([".SNIPER SCOPE POV"])[0];
  assert.deepEqual(toks, [[".", "marker"], ["SNIPER SCOPE POV", "scene"]]);
  const numbered = tokenizeLines(["INT. HOUSE - DAY #1A#"])[0];
  assert.equal(styleOf(numbered, "#1A#"), "sceneNumber");
  assert.equal(styleOf(numbered, "INT. HOUSE"), "scene");
});

test("a scene heading needs a blank line before it", () => {
  assert.deepEqual(types("Some action.\nINT. HOUSE - DAY"), ["action", "action"]);
});

test("character cue, dialogue and parentheticals", () => {
  const text = [
    "Alice walks in.", "", "ALICE (V.O.)", "(quietly)", "I knew it.", "Every word.", "",
    "BOB", "No.", "", "@McCLANE", "Yippee.", "", "MAN #2 (CONT'D) ^", "Me too.", "",
    "R2D2", "Beep.",
  ].join("\n");
  assert.deepEqual(types(text), [
    "action", "blank", "character", "parenthetical", "dialogue", "dialogue", "blank",
    "character", "dialogue", "blank", "character", "dialogue", "blank", "character",
    "dialogue", "blank", "character", "dialogue",
  ]);
});

test("an all-caps line followed by a blank line is action, not a cue", () => {
  assert.deepEqual(types("FADE IN:\n\nHello."), ["action", "blank", "action"]);
  assert.deepEqual(types("\nBOOM"), ["blank", "action"]); // last line: nothing follows
  assert.deepEqual(types("\n23\nNot a cue."), ["blank", "action", "action"]);
});

test("two spaces keep dialogue going", () => {
  assert.deepEqual(types("BOB\nLine one.\n  \nLine two.\n\nAfter."), [
    "character", "dialogue", "dialogue", "dialogue", "blank", "action",
  ]);
});

test("cue extensions and dual dialogue", () => {
  assert.equal(cueName("ALICE (V.O.)"), "ALICE");
  assert.equal(cueName("ALICE (cont'd) ^"), "ALICE");
  assert.equal(cueName("@McCLANE"), "@McCLANE");
  const toks = tokenizeLines(["", "ALICE (V.O.) ^", "Hi."])[1];
  assert.equal(styleOf(toks, "ALICE"), "character");
  assert.equal(styleOf(toks, "(V.O.)"), "extension");
  assert.equal(styleOf(toks, "^"), "marker");
  const forced = tokenizeLines(["", "@McCLANE", "Hi."])[1];
  assert.deepEqual(forced, [["@", "marker"], ["McCLANE", "character"]]);
});

test("transitions: TO: in caps and forced >", () => {
  assert.deepEqual(types("Action.\n\nCUT TO:\n\n> FADE OUT.\n\nSMASH CUT TO:"), [
    "action", "blank", "transition", "blank", "transition", "blank", "transition",
  ]);
  assert.deepEqual(types("\nCut to:\n"), ["blank", "action", "blank"]);
  const toks = tokenizeLines(["> FADE OUT."])[0];
  assert.equal(toks[0][1], "marker");
  assert.equal(styleOf(toks, "FADE OUT."), "transition");
});

test("centered text", () => {
  assert.deepEqual(types(">THE END<\n\n> INTERMISSION <"), ["centered", "blank", "centered"]);
  const toks = tokenizeLines([">THE END<"])[0];
  assert.deepEqual(toks, [[">", "marker"], ["THE END", "centered"], ["<", "marker"]]);
});

test("sections, synopses, page breaks, lyrics, forced action", () => {
  assert.deepEqual(types("# Act One\n\n## Sequence\n= They meet.\n\n===\n\n~Sing a song\n\n!BANG"), [
    "section", "blank", "section", "synopsis", "blank", "pagebreak", "blank", "lyrics",
    "blank", "action",
  ]);
  const toks = tokenizeLines(["# Act One", "= They meet.", "===", "~La la", "!BANG"]);
  assert.deepEqual(toks[0], [["# Act One", "section"]]);
  assert.deepEqual(toks[1], [["= They meet.", "synopsis"]]);
  assert.deepEqual(toks[2], [["===", "pagebreak"]]);
  assert.deepEqual(toks[3], [["~", "marker"], ["La la", "lyrics"]]);
  assert.deepEqual(toks[4], [["!", "marker"], ["BANG", null]]);
});

test("notes inline and on their own line", () => {
  const toks = tokenizeLines(["He waits. [[Is this too slow?]] Then runs."])[0];
  assert.equal(styleOf(toks, "[[Is this too slow?]]"), "note");
  assert.equal(styleOf(toks, "He waits."), null);
  assert.deepEqual(types("Action.\n\n[[A note]]\n\nMore."), [
    "action", "blank", "note", "blank", "action",
  ]);
  // A note after a cue does not break the cue.
  assert.deepEqual(types("\nBOB [[or JIM?]]\nHi."), ["blank", "character", "dialogue"]);
  // Multi-line note.
  const multi = tokenizeLines(["[[first line", "second line]] after"]);
  assert.deepEqual(multi[0], [["[[first line", "note"]]);
  assert.equal(styleOf(multi[1], "second line]]"), "note");
});

test("boneyard spans lines and the state carries it", () => {
  const lines = ["Visible.", "/* Cut this:", "INT. OLD SCENE - DAY", "", "BOB", "Hi.", "*/", "", "After."];
  const toks = tokenizeLines(lines);
  assert.equal(styleOf(toks[1], "Cut this"), "boneyard");
  assert.deepEqual(toks[2], [["INT. OLD SCENE - DAY", "boneyard"]]);
  assert.deepEqual(toks[4], [["BOB", "boneyard"]]);
  assert.deepEqual(toks[6], [["*/", "boneyard"]]);
  assert.deepEqual(toks[8], [["After.", null]]);
  // The empty line inside belongs to the boneyard, as in the parser.
  assert.deepEqual(classifyLines(lines), [
    "action", "boneyard", "boneyard", "boneyard", "boneyard", "boneyard", "boneyard", "blank", "action",
  ]);
  // Inline boneyard.
  const inline = tokenizeLines(["Keep /* drop */ keep."])[0];
  assert.equal(styleOf(inline, "/* drop */"), "boneyard");
  // copyState copies the flag (CodeMirror caches states between lines).
  const s = startState();
  s.boneyard = true;
  const c = copyState(s);
  c.boneyard = false;
  assert.equal(s.boneyard, true);
});

test("stripInline", () => {
  assert.deepEqual(stripInline("a /* b */ c [[d]] e"), { text: "a  c  e", boneyard: false, note: false, hidden: true });
  assert.deepEqual(stripInline("a /* b", false, false), { text: "a ", boneyard: true, note: false, hidden: true });
  assert.deepEqual(stripInline("b */ c", true, false), { text: " c", boneyard: false, note: false, hidden: true });
});

test("emphasis", () => {
  const toks = tokenizeLines(["She is **very** *sure* and _underlined_ 2 * 3."])[0];
  assert.equal(styleOf(toks, "**very**"), "strong");
  assert.equal(styleOf(toks, "*sure*"), "emphasis");
  assert.equal(styleOf(toks, "_underlined_"), "underline");
  assert.equal(toks.map(([t]) => t).join(""), "She is **very** *sure* and _underlined_ 2 * 3.");
});

test("stream parser and exact classifier agree (except tentative cues)", () => {
  const sample = [
    "INT. KITCHEN - NIGHT", "", "Rain on the window.", "", "ALICE", "(whispering)", "Did you hear that?", "",
    "BOB (O.S.)", "Hear what?", "", "CUT TO:", "", ">THE END<",
  ];
  const exact = classifyLines(sample);
  // Re-run the stream tokenizer and read the line type it decided per line.
  const state = startState();
  const streamTypes = [];
  for (const line of sample) {
    tokenizeLinesWith(state, line);
    streamTypes.push(state.lineType);
  }
  assert.deepEqual(streamTypes, exact);
});

function tokenizeLinesWith(state, line) {
  if (line.length === 0) { blankLine(state); return; }
  const stream = {
    string: line, pos: 0, start: 0,
    sol() { return this.pos === 0; },
    eol() { return this.pos >= this.string.length; },
    next() { return this.string[this.pos++]; },
    skipToEnd() { this.pos = this.string.length; },
    match(re) {
      const m = this.string.slice(this.pos).match(re);
      if (!m || m.index > 0) return null;
      this.pos += m[0].length;
      return m;
    },
  };
  while (!stream.eol()) { stream.start = stream.pos; token(stream, state); }
}

test("writer's desk: trailing spaces, a period and a space, a lone FADE IN: on line one", () => {
  // Spaces and tabs around a line are not read: CUT TO: still ends in TO: (grammar.py).
  assert.deepEqual(types("\nCUT TO:   \n\nINT. HOUSE - DAY"), [
    "blank", "transition", "blank", "scene",
  ]);
  assert.deepEqual(types("\nCUT TO:\t\n"), ["blank", "transition", "blank"]);
  const toks = tokenizeLines(["", "CUT TO:   ", ""])[1];
  assert.equal(styleOf(toks, "CUT TO:"), "transition");
  // ". KITCHEN" forces no heading: the spec wants a period followed by a letter or digit.
  assert.deepEqual(types("\n. KITCHEN\n"), ["blank", "action", "blank"]);
  assert.deepEqual(tokenizeLines([". The end."])[0], [[". The end.", null]]); // no marker
  // The first line of a scene or a script: FADE IN: is action, CUT TO: a transition.
  assert.deepEqual(types("FADE IN:\n\nINT. HOUSE - DAY"), ["action", "blank", "scene"]);
  assert.deepEqual(types("CUT TO:\n\nINT. HOUSE - DAY"), ["transition", "blank", "scene"]);
  // Typographic apostrophes and compound cues are cues.
  assert.deepEqual(types("\nMAN’S VOICE (CONT’D)\nAgain?"), ["blank", "character", "dialogue"]);
  assert.deepEqual(types("\nJOHN & MARY\nHi."), ["blank", "character", "dialogue"]);
});
