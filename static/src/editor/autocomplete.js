/*
 * Suggestions while typing (@codemirror/autocomplete), from the project's own data, which
 * the scene page renders as `{{ editor_hints|json_script:"editor-hints" }}`
 * (scripts_app/views.py: _editor_hints): {characters: [...], locations: [...], times: [...]}.
 *
 * - Cue position (a line after a blank line or at the start, outside a speech, typed in
 *   capitals): the project's character names and the names already cued in this scene.
 * - Scene heading: at the start of such a line, typed in capitals, `INT.`, `EXT.`,
 *   `INT./EXT.`; after a heading prefix, the project's locations; after ` - `, times of day.
 * Enter (or a click) takes the highlighted suggestion, Esc closes the list, Ctrl+Space opens it.
 * A suggestion equal to what is typed is not offered, so Enter after a full cue name goes on
 * to dialogue (./elements.js).
 */
import { autocompletion } from "@codemirror/autocomplete";

import { classifyLines, cueName, isCueName } from "./fountain-mode.js";

export const HEADING_PREFIXES = ["INT.", "EXT.", "INT./EXT."];
const HEADING_RE = /^(?:INT\.?\/EXT|INT|EXT|EST|I\/E)[. ]\s*/i;
const CAPS_RE = /^[\p{Lu}\p{N} .'’#&/-]*$/u;
const MAX_ITEMS = 2000;

/** The hints from the page, checked: lists of strings only (anything else is dropped). */
export function readHints(doc = globalThis.document) {
  const empty = { characters: [], locations: [], times: [], autoContd: false };
  const node = doc && doc.getElementById("editor-hints");
  if (!node) return empty;
  let data;
  try { data = JSON.parse(node.textContent); } catch { return empty; }
  const list = (v) => (Array.isArray(v) ? v.filter((s) => typeof s === "string" && s.trim()).slice(0, MAX_ITEMS) : []);
  return data && typeof data === "object"
    ? {
        characters: list(data.characters),
        locations: list(data.locations),
        times: list(data.times),
        autoContd: data.auto_contd === true,
      }
    : empty;
}

/** Names cued in `text` (as the Fountain mode reads its cues). */
export function cuedNames(text) {
  const lines = text.split("\n");
  const types = classifyLines(lines);
  const names = new Set();
  types.forEach((t, i) => {
    if (t !== "character") return;
    const name = cueName(lines[i].replace(/^\s*@/, ""));
    if (name) names.add(name);
  });
  return [...names];
}

/**
 * What to offer on a line, given the text before the cursor on it (`before`), whether the
 * line above is blank (or there is none) and whether the cursor is inside a speech.
 * Returns {from: offset in the line, options: [labels], kind} or null.
 */
export function suggest(before, { prevBlank, inSpeech, hints, scene = [] }) {
  if (inSpeech || !prevBlank) return null;
  const lead = before.length - before.trimStart().length;
  const typed = before.slice(lead);
  const heading = typed.match(HEADING_RE);
  if (heading) {
    const rest = typed.slice(heading[0].length);
    const dash = rest.lastIndexOf(" - ");
    if (dash >= 0) {
      const from = lead + heading[0].length + dash + 3;
      return { from, kind: "time", options: offer(hints.times, before.slice(from)) };
    }
    const from = lead + heading[0].length;
    return { from, kind: "location", options: offer(hints.locations, rest) };
  }
  if (typed === "" || !CAPS_RE.test(typed) || !/\p{Lu}/u.test(typed)) return null;
  const prefixes = HEADING_PREFIXES.filter((p) => p.startsWith(typed) && p !== typed);
  const names = [...new Set([...hints.characters, ...scene].map((n) => n.toUpperCase()))]
    .filter((n) => isCueName(n));
  return { from: lead, kind: "cue", options: [...prefixes, ...offer(names, typed)] };
}

function offer(list, typed) {
  const t = typed.trim().toUpperCase();
  return list.filter((s) => s.toUpperCase() !== t && (t === "" || s.toUpperCase().startsWith(t)));
}

function source(getHints) {
  return (context) => {
    const { state, pos } = context;
    const line = state.doc.lineAt(pos);
    const before = line.text.slice(0, pos - line.from);
    if (!before.trim() && !context.explicit) return null;
    const prev = line.number > 1 ? state.doc.line(line.number - 1).text : "";
    // In a speech? The line above is a cue, a parenthetical or dialogue.
    const upTo = state.doc.sliceString(0, line.from).split("\n");
    upTo.pop();
    const types = classifyLines([...upTo, "x"]);
    const prevType = types[types.length - 2];
    const inSpeech = ["character", "dialogue", "parenthetical", "lyrics"].includes(prevType) && prev.trim() !== "";
    const hints = getHints();
    const found = suggest(before, {
      prevBlank: prev.trim() === "" || line.number === 1,
      inSpeech,
      hints,
      scene: cuedNames(state.doc.toString()),
    });
    if (!found || !found.options.length) return null;
    const options = found.options.map((label) => {
      if (found.kind === "location") {
        return { label, type: "location", detail: "place", apply: `${label} - `, more: true };
      }
      if (found.kind === "time") return { label, type: "time", detail: "time of day" };
      if (HEADING_PREFIXES.includes(label)) {
        return { label, type: "heading", detail: "scene heading", apply: `${label} `, more: true };
      }
      return { label, type: "character", detail: "character" };
    });
    return { from: line.from + found.from, options, filter: false }; // asked again per key
  };
}

/** The autocomplete extension; `hints` as readHints() returns them. */
export function screenplayCompletion(hints = readHints()) {
  return autocompletion({
    override: [source(() => hints)],
    activateOnTyping: true,
    // After a prefix, go on to the places; after a place, to the times of day.
    activateOnCompletion: (completion) => completion.more === true,
    icons: false,
    closeOnBlur: true,
  });
}
