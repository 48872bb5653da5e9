// Remote presence (Yjs awareness) states are untrusted: the server rebuilds them from the
// session (scripts_app/presence.py), and the editor checks them again before anything is
// drawn. y-codemirror.next writes a caret's colour into a `style` attribute, so a colour
// must be a strict #rrggbb (an attacker's "red; position:fixed; …" would paint the page).

export const FALLBACK_COLOR = "#777777";
const COLOR = /^#[0-9a-f]{6}$/i;
const COLOR_LIGHT = /^#[0-9a-f]{6}([0-9a-f]{2})?$/i;
export const MAX_NAME = 80;

/** A colour safe to put in a style attribute: a strict #rrggbb, or the fallback. */
export function safeColor(c) {
  return typeof c === "string" && COLOR.test(c) ? c.toLowerCase() : FALLBACK_COLOR;
}

/** The `user` field of a remote state, keeping only what the editor draws, checked. */
export function cleanUser(user) {
  const u = user && typeof user === "object" ? user : {};
  const color = safeColor(u.color);
  const light = typeof u.colorLight === "string" && COLOR_LIGHT.test(u.colorLight) && u.colorLight.toLowerCase().startsWith(color)
    ? u.colorLight.toLowerCase()
    : color + "33";
  const name = typeof u.name === "string" && u.name.trim() ? u.name.slice(0, MAX_NAME) : "Anonymous";
  return {
    name,
    color,
    colorLight: light,
    id: typeof u.id === "string" || typeof u.id === "number" ? String(u.id).slice(0, 20) : "",
    role: typeof u.role === "string" ? u.role.slice(0, 20) : "",
    canEdit: u.canEdit === true,
  };
}

/** Clean the given remote clients' states in place (before the editor draws them). */
export function sanitizeRemoteStates(awareness, clientIds) {
  for (const id of clientIds) {
    if (id === awareness.clientID) continue;
    const state = awareness.states.get(id);
    if (state && typeof state === "object") state.user = cleanUser(state.user);
  }
}
