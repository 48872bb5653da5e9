// `node --test tests/js/`: user colours are stable and keep white name labels readable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PALETTE, userColor } from "../../static/src/editor/colors.js";

function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

test("palette colours give >= 4.5:1 contrast with white label text", () => {
  for (const c of PALETTE) {
    const ratio = 1.05 / (luminance(c) + 0.05);
    assert.ok(ratio >= 4.5, `${c}: ${ratio.toFixed(2)}`);
  }
});

test("colours are stable per user id and differ for neighbours", () => {
  assert.deepEqual(userColor("7", "alice"), userColor("7", "someone else"));
  assert.notEqual(userColor("7").color, userColor("8").color);
  assert.equal(userColor("7").colorLight, userColor("7").color + "33");
  assert.deepEqual(userColor("", "bob"), userColor(undefined, "bob"));
  assert.match(userColor("abc").color, /^#[0-9a-f]{6}$/);
});
