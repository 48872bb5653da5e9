/*
 * Production revision marks in the scene editor.
 *
 * Once a project is locked for production (scripts_app/production.py), the scene page
 * carries <script type="application/json" id="production-marks"> with the scene's lines as
 * last issued, each with the revision that last changed it (null: unchanged since the white
 * draft), and the open revision (the colour that changes made now will print in):
 *   {"lines": [["text", mark|null], …], "open": {"index": 2, "name": "Pink", "swatch": "#…"},
 *    "colours": {"1": {"name": "Blue", "swatch": "#…"}}, "number": "12A"}
 * Every non-blank line of the live text is matched against those lines (longest common
 * subsequence, lines compared without trailing spaces): a matched line keeps its mark, an
 * unmatched one is revised now. Marked lines get an asterisk in the right margin in their
 * revision's colour, as the production PDF prints them. The PDF's rule is per element
 * (formats/production.py); for one-line elements, which most are, both say the same.
 */
import { Decoration, ViewPlugin } from "@codemirror/view";
import { RangeSetBuilder } from "@codemirror/state";

// Beyond this many cells the LCS table is not built: lines are matched by count instead
// (a line of the issue is used once), which is what an LCS finds for text that moved little.
const MAX_CELLS = 4_000_000;

export function readMarks(id = "production-marks") {
  const node = typeof document !== "undefined" ? document.getElementById(id) : null;
  if (!node) return null;
  try {
    const data = JSON.parse(node.textContent);
    return Array.isArray(data.lines) && data.open ? data : null;
  } catch {
    return null;
  }
}

const norm = (s) => s.replace(/\s+$/, "");

/**
 * For each line of `current` (strings), the revision mark it prints with: the issued line's
 * mark when it is matched, `openIndex` when it is new or changed, null for blank lines and
 * unchanged lines that were never revised.
 */
export function lineMarks(current, issued, openIndex) {
  const cur = [];
  current.forEach((line, i) => { if (norm(line)) cur.push(i); });
  const old = issued.filter(([text]) => norm(text));
  const out = current.map(() => null);
  for (const i of cur) out[i] = openIndex;
  const n = cur.length, m = old.length;
  if (!n || !m) return out;
  const a = cur.map((i) => norm(current[i]));
  const b = old.map(([text]) => norm(text));
  if (n * m > MAX_CELLS) {
    const pool = new Map();
    old.forEach(([text, mark], k) => {
      const key = b[k];
      if (!pool.has(key)) pool.set(key, []);
      pool.get(key).push(mark);
    });
    a.forEach((text, k) => {
      const marks = pool.get(text);
      if (marks && marks.length) out[cur[k]] = marks.shift();
    });
    return out;
  }
  // LCS lengths from the end: L[i][j] for a[i:], b[j:].
  const w = m + 1;
  const L = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * w + j] = a[i] === b[j] ? L[(i + 1) * w + j + 1] + 1
        : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
    }
  }
  for (let i = 0, j = 0; i < n && j < m;) {
    if (a[i] === b[j]) { out[cur[i]] = old[j][1]; i++; j++; }
    else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) i++;
    else j++;
  }
  return out;
}

/** The CodeMirror extension: an asterisk beside every revised line (none without data). */
export function revisionMarks(data = readMarks()) {
  if (!data) return [];
  const colours = { ...(data.colours || {}) };
  colours[String(data.open.index)] = { name: data.open.name, swatch: data.open.swatch };
  const decoFor = new Map();
  const deco = (mark) => {
    if (!decoFor.has(mark)) {
      const c = colours[String(mark)] || { name: `Revision ${mark}`, swatch: "#888" };
      const swatch = /^#[0-9a-f]{6}$/i.test(c.swatch) ? c.swatch : "#888";
      decoFor.set(mark, Decoration.line({
        class: "cf-revised",
        attributes: { style: `--rev: ${swatch}`, title: `Revised: ${c.name}`, "data-rev": c.name },
      }));
    }
    return decoFor.get(mark);
  };
  return ViewPlugin.fromClass(class {
    constructor(view) { this.decorations = this.build(view); }
    update(u) { if (u.docChanged) this.decorations = this.build(u.view); }
    build(view) {
      const doc = view.state.doc;
      const lines = [];
      for (const iter = doc.iterLines(); !iter.next().done;) lines.push(iter.value);
      const marks = lineMarks(lines, data.lines, data.open.index);
      const builder = new RangeSetBuilder();
      marks.forEach((mark, k) => {
        if (mark !== null && mark !== undefined) {
          const line = doc.line(k + 1);
          builder.add(line.from, line.from, deco(mark));
        }
      });
      return builder.finish();
    }
  }, { decorations: (v) => v.decorations });
}
