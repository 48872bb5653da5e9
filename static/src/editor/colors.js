// Stable user colours for cursors, selections and the presence row.
// Every colour keeps white label text readable (contrast >= 4.5:1, checked in tests/js).

export const PALETTE = Object.freeze([
  "#1f6fb2", // blue
  "#b3261e", // red
  "#2e7d32", // green
  "#7b3fb3", // purple
  "#a84a00", // burnt orange
  "#00796b", // teal
  "#c2185b", // raspberry
  "#3949ab", // indigo
  "#6d4c41", // brown
  "#0277bd", // sky
  "#8e24aa", // violet
  "#5d6d1e", // olive
]);

function hashString(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** The colour of a user: by numeric id when there is one (stable, consecutive ids differ), else by hash. */
export function userColor(userId, name = "") {
  const key = String(userId ?? "").trim();
  const n = /^\d+$/.test(key) ? Number(key) : hashString(key || name);
  const color = PALETTE[n % PALETTE.length];
  return { color, colorLight: color + "33" }; // ~20% alpha for remote selections
}
