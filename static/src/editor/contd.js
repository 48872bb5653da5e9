// Automatic (CONT'D) in the editor: the project's setting (Project.auto_contd, sent in the
// page's editor hints) shows "(CONT'D)" after a cue whose character spoke last in the
// scene with only action between — the same rule as the printed pages
// (scripts_app/formats/pagination.py: auto_contd). A decoration only: the text (and what
// collaborators receive) is unchanged.
import { Decoration, ViewPlugin, WidgetType } from "@codemirror/view";
import { classifyLines, cueName } from "./fountain-mode.js";

const CONTD_RE = /\(([^)]*)\)/g;
const CONTD_WORDS = new Set(["CONTD", "CONT", "CONTINUED", "CONTINUING"]);

/** True if the cue already says it continues ("JOHN (CONT’D)", "ann (O.S., cont'd)"). */
export function hasContd(cue) {
  for (const m of cue.matchAll(CONTD_RE)) {
    for (const item of m[1].split(",")) {
      const word = item.toUpperCase().replace(/['’. ]/g, "");
      if (CONTD_WORDS.has(word)) return true;
    }
  }
  return false;
}

/** Indices of the lines whose cue gets an automatic (CONT'D), for a scene's lines. */
export function contdLines(lines) {
  const types = classifyLines(lines);
  const out = [];
  let last = null;
  let interrupted = false;
  for (let i = 0; i < lines.length; i++) {
    const t = types[i];
    if (t === "scene" || t === "transition" || t === "pagebreak") {
      last = null;
      interrupted = false;
    } else if (t === "character") {
      const text = lines[i].trim();
      const name = cueName(text.replace(/^@/, "")).toUpperCase();
      if (text.endsWith("^")) {
        last = null; // dual dialogue is left as written
      } else {
        if (name === last && interrupted && !hasContd(text)) out.push(i);
        last = name;
      }
      interrupted = false;
    } else if ((t === "action" || t === "centered") && last !== null) {
      interrupted = true;
    }
  }
  return out;
}

class ContdWidget extends WidgetType {
  eq() { return true; }
  toDOM() {
    const span = document.createElement("span");
    span.className = "cm-auto-contd";
    span.textContent = " (CONT'D)";
    span.title = "Added on printed pages (project setting)";
    return span;
  }
  ignoreEvent() { return true; }
}

function decorations(view) {
  const doc = view.state.doc;
  const lines = doc.toString().split("\n");
  const widget = Decoration.widget({ widget: new ContdWidget(), side: 1 });
  return Decoration.set(contdLines(lines).map((i) => widget.range(doc.line(i + 1).to)));
}

/** The editor extension (only when the project has the setting on). */
export function autoContd(on) {
  if (!on) return [];
  return ViewPlugin.fromClass(
    class {
      constructor(view) { this.decorations = decorations(view); }
      update(u) { if (u.docChanged) this.decorations = decorations(u.view); }
    },
    { decorations: (v) => v.decorations },
  );
}
