// Fountain (https://fountain.io/syntax) tokenizer for the Cowrite editor.
//
// Pure module: no CodeMirror imports, so it runs under `node --test` as is.
// It is used twice:
//   * `fountainStreamParser` (token/blankLine/startState/copyState) is the spec
//     handed to CodeMirror's `StreamLanguage.define` for inline highlighting;
//   * `classifyLines` gives each line its element type; the editor's line
//     decoration plugin uses it to lay lines out like a printed screenplay.
// Both go through `scanLine`, so they agree on what a line is. The one
// difference: a character cue must be followed by a non-blank line and a
// transition by a blank one, and a stream parser cannot look ahead, so the
// stream parser decides those tentatively (pass `nextLine` to decide exactly).
//
// The rules are those of scripts_app/formats/grammar.py, the app's one Fountain
// grammar (the importer and exports use it); tests/js/fountain-grammar.test.mjs
// checks this file against the shared vectors in tests/fixtures/fountain_grammar.json.
//
// Line types: blank, scene, character, dialogue, parenthetical, transition,
// centered, action, section, synopsis, pagebreak, lyrics, note, boneyard.

export const LINE_TYPES = Object.freeze([
  "blank", "scene", "character", "dialogue", "parenthetical", "transition",
  "centered", "action", "section", "synopsis", "pagebreak", "lyrics", "note",
  "boneyard",
]);

/** Token names the stream parser emits (mapped to highlight tags by the editor). */
export const TOKEN_NAMES = Object.freeze([
  "scene", "sceneNumber", "character", "extension", "dialogue", "parenthetical",
  "transition", "centered", "section", "synopsis", "pagebreak", "lyrics", "note",
  "boneyard", "marker", "strong", "emphasis", "underline",
]);

export function startState() {
  return {
    prevBlank: true, // the previous (non-transparent) line was blank / start of text
    dialogue: false, // inside a dialogue block (after a cue, until a blank line)
    boneyard: false, // inside /* … */
    note: false, // inside [[ … ]]
    lineType: "blank", // type of the line being tokenized (stream parser)
    lineStart: false, // stream parser: at the start of a line's content
  };
}

export function copyState(s) {
  return { ...s };
}

// The line rules mirror scripts_app/formats/grammar.py (the one Fountain grammar: the
// importer, the exports and this editor must agree on what a line is);
// tests/fixtures/fountain_grammar.json holds the vectors both are tested against.
const SCENE_RE = /^(?:INT\.?\/EXT|INT|EXT|EST|I\/E)[. ]/i;
const FORCED_SCENE_RE = /^\.[^.\s]/;
const PAGEBREAK_RE = /^={3,}$/;
const isBlank = (s) => s == null || s.trim() === "";

/**
 * Remove boneyard (/* … *\/) and note ([[ … ]]) spans from a line, starting
 * with the given open/closed flags. Returns the remaining text and the flags
 * at the end of the line.
 */
export function stripInline(text, boneyard = false, note = false) {
  let out = "";
  let i = 0;
  let hidden = false; // something was stripped
  while (i < text.length) {
    if (boneyard) {
      const end = text.indexOf("*/", i);
      hidden = true;
      if (end < 0) { i = text.length; break; }
      boneyard = false;
      i = end + 2;
    } else if (note) {
      const end = text.indexOf("]]", i);
      hidden = true;
      if (end < 0) { i = text.length; break; }
      note = false;
      i = end + 2;
    } else if (text.startsWith("/*", i)) {
      boneyard = true;
      i += 2;
    } else if (text.startsWith("[[", i)) {
      note = true;
      i += 2;
    } else {
      out += text[i++];
    }
  }
  return { text: out, boneyard, note, hidden };
}

/**
 * The name part of a cue line: the text before the first "(" (extensions such as
 * (V.O.)), without a dual-dialogue `^`, spaces collapsed. A leading `@` stays.
 */
export function cueName(t) {
  let s = t.trim();
  if (s.endsWith("^")) s = s.slice(0, -1);
  const paren = s.indexOf("(");
  if (paren >= 0) s = s.slice(0, paren);
  return s.split(/\s+/).filter(Boolean).join(" ");
}

/**
 * A speaker's name: at least one upper-case letter, no lower-case one, and it ends in a
 * letter, digit, ".", "'" or "’" (so "CUT TO:" and "STAND!" are not names).
 */
export function isCueName(name) {
  return /\p{Uppercase}/u.test(name) && !/\p{Lowercase}/u.test(name) &&
    /[\p{L}\p{N}.'’]$/u.test(name);
}

const isTransition = (t) => t.endsWith("TO:") && t === t.toUpperCase();
const isParenthetical = (t) => t.startsWith("(") && t.endsWith(")");

/** The element type of a line inside a speech (after a cue, until a blank line). */
function speechLine(text) {
  if (text === "  ") return "dialogue"; // exactly two spaces: an empty line of dialogue
  const raw = text.trim();
  if (raw === "") return "blank";
  if (raw.startsWith("~")) return "lyrics";
  if (isParenthetical(raw)) return "parenthetical";
  return "dialogue";
}

/**
 * Decide the element type of one line given the state before it, without
 * changing the state. `nextLine`: the raw text of the following line, `null`
 * at the end of the text, `undefined` when unknown (stream parser).
 */
export function classifyLine(text, state, nextLine) {
  // Inside a speech everything is dialogue, a parenthetical or lyrics until a blank line.
  if (state.dialogue && !state.prevBlank) return speechLine(text);
  const stripped = stripInline(text, state.boneyard, state.note);
  const t = stripped.text.trim(); // without inline notes and boneyard
  const raw = text.trim(); // as written: forcing marks are read here
  if (raw === "") {
    // An empty line inside a multi-line note or boneyard belongs to it.
    if (state.boneyard) return "boneyard";
    if (state.note) return "note";
    return "blank";
  }
  if (t === "" && stripped.hidden) {
    // Only a note or boneyard on this line.
    return state.boneyard || /^\s*\/\*/.test(text) ? "boneyard" : "note";
  }
  if (PAGEBREAK_RE.test(raw)) return "pagebreak";
  if (raw.startsWith("#")) return "section";
  if (raw.startsWith("=")) return "synopsis";
  if (raw.startsWith(">") && raw.endsWith("<") && raw.length > 1) return "centered";
  if (raw.startsWith(">")) return "transition";
  if (raw.startsWith("~")) return "lyrics";
  if (FORCED_SCENE_RE.test(raw)) return "scene";
  if (raw.startsWith("@")) return "character";
  if (raw.startsWith("!")) return "action";
  if (!state.prevBlank) return "action";
  if (SCENE_RE.test(t)) return "scene";
  // `nextLine === undefined` (stream parser, no look-ahead): decide tentatively.
  const nextBlank = nextLine === undefined ? undefined : isBlank(nextLine);
  if (isTransition(t) && nextBlank !== false) return "transition";
  if (isCueName(cueName(t)) && nextBlank !== true) return "character";
  return "action";
}

/** Update `state` for the end of a line of the given type (line-level flags only). */
export function advanceState(state, type) {
  switch (type) {
    case "blank":
      state.prevBlank = true;
      state.dialogue = false;
      break;
    case "note":
    case "boneyard":
      // Like the parser: a whole-line note or boneyard is an element of its own, so the
      // next line does not follow a blank line.
      state.prevBlank = false;
      state.dialogue = false;
      break;
    case "character":
      state.prevBlank = false;
      state.dialogue = true;
      break;
    case "dialogue":
    case "parenthetical":
      state.prevBlank = false;
      break;
    case "lyrics":
      state.prevBlank = false; // lyrics may sit inside dialogue: keep the flag
      break;
    default:
      state.prevBlank = false;
      state.dialogue = false;
  }
  return state;
}

/**
 * Classify a line and move `state` past it (including boneyard/note flags).
 * Returns the line type.
 */
export function scanLine(text, state, nextLine) {
  const type = classifyLine(text, state, nextLine);
  const stripped = stripInline(text, state.boneyard, state.note);
  advanceState(state, type);
  state.boneyard = stripped.boneyard;
  state.note = stripped.note;
  return type;
}

/** Element type of every line (exact, with look-ahead for character cues). */
export function classifyLines(lines) {
  const state = startState();
  const types = new Array(lines.length);
  for (let i = 0; i < lines.length; i++) {
    types[i] = scanLine(lines[i], state, i + 1 < lines.length ? lines[i + 1] : null);
  }
  return types;
}

// ---------------------------------------------------------------------------
// Stream parser (CodeMirror StreamLanguage spec). Uses only sol/eol/match/next/
// skipToEnd/pos/string of the stream.

const ELEMENT_STYLE = {
  scene: "scene", character: "character", dialogue: "dialogue",
  parenthetical: "parenthetical", transition: "transition", centered: "centered",
  section: "section", synopsis: "synopsis", pagebreak: "pagebreak", lyrics: "lyrics",
  note: "note", boneyard: "boneyard", action: null, blank: null,
};

function consumeUntil(stream, close) {
  const idx = stream.string.indexOf(close, stream.pos);
  if (idx < 0) {
    stream.skipToEnd();
    return false;
  }
  stream.pos = idx + close.length;
  return true;
}

export function token(stream, state) {
  if (stream.sol()) {
    const bone = state.boneyard;
    const note = state.note;
    state.lineType = scanLine(stream.string, state, undefined);
    // Re-open the inline flags: the inline pass below walks the same spans.
    state.boneyard = bone;
    state.note = note;
    state.lineStart = true;
  }
  const type = state.lineType;

  if (state.boneyard) {
    if (consumeUntil(stream, "*/")) state.boneyard = false;
    return "boneyard";
  }
  if (state.note) {
    if (consumeUntil(stream, "]]")) state.note = false;
    return "note";
  }
  if (stream.match(/^\/\*/)) {
    state.boneyard = true;
    if (consumeUntil(stream, "*/")) state.boneyard = false;
    return "boneyard";
  }
  if (stream.match(/^\[\[/)) {
    state.note = true;
    if (consumeUntil(stream, "]]")) state.note = false;
    return "note";
  }

  const style = ELEMENT_STYLE[type] ?? null;

  if (state.lineStart) {
    state.lineStart = false;
    if (stream.match(/^\s+/)) return style;
    if (type === "section" || type === "synopsis" || type === "pagebreak") {
      stream.skipToEnd();
      return style;
    }
    // Forced-element markers.
    if ((type === "scene" && stream.match(/^\.(?=[^.\s])/)) ||
        (type === "character" && stream.match(/^@/)) ||
        ((type === "transition" || type === "centered") && stream.match(/^>/)) ||
        (type === "lyrics" && stream.match(/^~/)) ||
        (type === "action" && stream.match(/^!/))) {
      return "marker";
    }
  }

  if (type === "scene" && stream.match(/^#[^#]*#\s*$/)) return "sceneNumber";
  if (type === "centered" && stream.match(/^<\s*$/)) return "marker";
  if (type === "character") {
    if (stream.match(/^\([^()]*\)/)) return "extension";
    if (stream.match(/^\^\s*$/)) return "marker";
  }
  // Emphasis: **bold**, *italic*, _underline_ (closed on the same line).
  let m;
  if ((m = stream.match(/^\*\*(?=\S)[^*]*?\S\*\*/) || stream.match(/^\*\*\S\*\*/))) return "strong";
  if ((m = stream.match(/^\*(?=[^*\s])[^*]*?[^*\s]?\*/))) return "emphasis";
  if ((m = stream.match(/^_(?=\S)[^_]*?_/))) return "underline";

  // A run of ordinary text up to the next character that may start something.
  const stop = type === "scene" ? /^[^/[*_#]+/ : type === "character" ? /^[^/[*_(^]+/ : type === "centered" ? /^[^/[*_<]+/ : /^[^/[*_]+/;
  if (!stream.match(stop)) stream.next();
  return style;
}

export function blankLine(state) {
  scanLine("", state, undefined);
  state.lineType = "blank";
}

/** The spec for `StreamLanguage.define` (the editor adds `tokenTable`). */
export const fountainStreamParser = {
  name: "fountain",
  startState,
  copyState,
  token,
  blankLine,
};

// ---------------------------------------------------------------------------
// Helpers for tests: tokenize whole lines with a minimal StringStream.

class MiniStream {
  constructor(string) {
    this.string = string;
    this.pos = 0;
    this.start = 0;
  }
  sol() { return this.pos === 0; }
  eol() { return this.pos >= this.string.length; }
  next() { return this.pos < this.string.length ? this.string[this.pos++] : undefined; }
  skipToEnd() { this.pos = this.string.length; }
  match(re) {
    const m = this.string.slice(this.pos).match(re);
    if (!m || m.index > 0) return null;
    this.pos += m[0].length;
    return m;
  }
}

/** Tokenize lines like CodeMirror would: returns, per line, [[text, style], …]. */
export function tokenizeLines(lines) {
  const state = startState();
  return lines.map((line) => {
    if (line.length === 0) {
      blankLine(state);
      return [];
    }
    const stream = new MiniStream(line);
    const out = [];
    while (!stream.eol()) {
      stream.start = stream.pos;
      const style = token(stream, state);
      if (stream.pos === stream.start) throw new Error("tokenizer did not advance");
      const text = line.slice(stream.start, stream.pos);
      const last = out[out.length - 1];
      if (last && last[1] === style) last[0] += text;
      else out.push([text, style]);
    }
    return out;
  });
}
