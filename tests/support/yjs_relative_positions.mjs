// Real Yjs relative positions for tests/fixtures/yjs_relative_positions.json, which the
// server's resolver (scripts_app/positions.py) is held to. Deterministic (fixed client ids,
// a seeded generator): `node tests/support/yjs_relative_positions.mjs > tests/fixtures/yjs_relative_positions.json`
// rewrites the file; tests/js/relative-positions.test.mjs checks it is still what Yjs makes.
import * as Y from "yjs";

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ["MARA\n", "It's holding.", " ", "é", "—", "’", "😀", "naïve ", "\n\n", "JONAH\n", "Café", "x", "🎬 roll"];

// Code points before a UTF-16 index (what Python counts).
function codePoints(text, u16) {
  return Array.from(text.slice(0, u16)).length;
}

function clampToCharBoundary(text, i) {
  // Never between the two halves of a surrogate pair (CodeMirror does not put a cursor there).
  const c = text.charCodeAt(i - 1);
  return c >= 0xd800 && c <= 0xdbff ? i - 1 : i;
}

export function scenario(seed) {
  const next = rng(seed);
  const pick = (n) => Math.floor(next() * n);
  const docs = [1, 2, 3].map((id) => {
    const d = new Y.Doc();
    d.clientID = 1000 + id * 7919 + seed;
    return d;
  });
  const sync = () => {
    for (const a of docs) for (const b of docs) if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  };
  docs[0].getText("text").insert(0, "INT. STATION — NIGHT\n\nAlarms pulse amber. Café naïve 😀.\n\nMARA\nIt’s holding.\n");
  sync();
  const marks = [];
  for (let round = 0; round < 30; round++) {
    for (const d of docs) {
      const t = d.getText("text");
      const ops = 1 + pick(3);
      for (let k = 0; k < ops; k++) {
        const len = t.length;
        if (len > 8 && next() < 0.35) {
          const at = clampToCharBoundary(t.toString(), pick(len - 2));
          const n = Math.min(1 + pick(6), len - at);
          const end = clampToCharBoundary(t.toString(), at + n);
          if (end > at) t.delete(at, end - at);
        } else {
          const at = clampToCharBoundary(t.toString(), pick(len + 1));
          t.insert(at, PIECES[pick(PIECES.length)]);
        }
      }
    }
    if (round % 3 === 2) sync();
    // A few marks from one replica, taken as it is now; resolved at the very end.
    const d = docs[pick(3)];
    const t = d.getText("text");
    for (let k = 0; k < 3; k++) {
      const at = clampToCharBoundary(t.toString(), pick(t.length + 1));
      const assoc = next() < 0.5 ? 0 : -1;
      const rpos = Y.createRelativePositionFromTypeIndex(t, at, assoc);
      marks.push({ b64: Buffer.from(Y.encodeRelativePosition(rpos)).toString("base64"), rpos });
    }
  }
  sync();
  const d = docs[0];
  const text = d.getText("text").toString();
  return {
    seed,
    update: Buffer.from(Y.encodeStateAsUpdate(d)).toString("base64"),
    text,
    positions: marks.map((m) => {
      const abs = Y.createAbsolutePositionFromRelativePosition(m.rpos, d);
      return { b64: m.b64, index: abs ? codePoints(text, abs.index) : null };
    }),
  };
}

export function fixture() {
  return { yjs: "13.6.33", scenarios: [1, 2, 3, 4, 5, 6].map(scenario) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(JSON.stringify(fixture(), null, 1) + "\n");
}
