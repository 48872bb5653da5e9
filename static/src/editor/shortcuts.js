/*
 * The shortcuts sheet of the scene page: `?` (when not typing in a field or the editor) or
 * Ctrl+/ (anywhere, the editor included) opens a modal <dialog> listing every keyboard
 * shortcut of the page; Esc or its Close button closes it and focus goes back where it was.
 * A modal <dialog> makes the page behind it inert; Tab and Shift+Tab cycle inside it. docs/shortcuts.md holds the same list: keep
 * them together. The drafts panel's keys live in static/js/drafts.js, the page's in
 * static/js/app.js, the editor's in ./elements.js, ./autocomplete.js and ./main.js.
 */

export const SHORTCUTS = [
  {
    title: "Scene editor",
    keys: [
      ["Enter", "Next element: after a scene heading, action, dialogue or a transition a blank line and a new action paragraph; after a cue, dialogue; after a parenthetical, dialogue again"],
      ["Shift+Enter", "A plain new line in the same element"],
      ["Tab", "Change the element: empty action line → character → transition (CUT TO:) → action; in dialogue or after a cue, a parenthetical ( ); in a parenthetical, back to dialogue"],
      ["Shift+Tab", "Change the element backwards (action → transition → character → action); on an empty dialogue line, back to the cue"],
      ["Ctrl+Space", "Show suggestions (character names, INT./EXT., places, times of day)"],
      ["Enter / ↑ ↓ / Esc", "In the suggestions: take one / move / close the list"],
      ["Ctrl+Z", "Undo your own edits"],
      ["Ctrl+Y or Ctrl+Shift+Z", "Redo"],
      ["Ctrl+F", "Find and replace"],
      ["F3 or Ctrl+G / Shift+F3", "Next / previous match"],
      ["Ctrl+D", "Select the next occurrence"],
      ["Ctrl+Alt+G", "Go to line"],
      ["Ctrl+Alt+M", "Add a note on the selected words (Notes card)"],
      ["Esc, then Tab", "Leave the editor with the keyboard"],
    ],
  },
  {
    title: "Scene page",
    keys: [
      ["Ctrl+S", "Save a version"],
      ["Alt+↑ / Alt+↓", "Previous / next scene"],
      ["?", "This list (when not typing)"],
      ["Ctrl+/", "This list (also while typing)"],
      ["Esc", "Close this list"],
    ],
  },
  {
    title: "Drafts panel",
    keys: [
      ["Ctrl+Enter", "Ask for a draft"],
      ["Alt+Shift+N", "Write the scene (new)"],
      ["Alt+Shift+C", "Continue from the cursor"],
      ["Alt+Shift+R", "Rewrite the selection"],
      ["Alt+Shift+D", "Dialogue pass"],
      ["Alt+Shift+V", "Compare the newest request's alternatives side by side"],
    ],
  },
];

const isMac = () => /Mac|iPhone|iPad/.test(globalThis.navigator ? navigator.platform || "" : "");

function keyText(k) {
  return isMac() ? k.replace(/Ctrl\+/g, "⌘").replace(/Alt\+/g, "⌥") : k;
}

let dialog = null;
let returnTo = null;

function build() {
  const d = document.createElement("dialog");
  d.id = "shortcuts-sheet";
  d.className = "shortcuts-sheet";
  d.setAttribute("role", "dialog");
  d.setAttribute("aria-labelledby", "shortcuts-title");
  const head = document.createElement("div");
  head.className = "shortcuts-head";
  const h = document.createElement("h2");
  h.id = "shortcuts-title";
  h.textContent = "Keyboard shortcuts";
  const close = document.createElement("button");
  close.type = "button";
  close.className = "shortcuts-close";
  close.textContent = "Close";
  close.addEventListener("click", () => d.close());
  head.append(h, close);
  d.append(head);
  for (const group of SHORTCUTS) {
    const section = document.createElement("section");
    const h3 = document.createElement("h3");
    h3.textContent = group.title;
    const dl = document.createElement("dl");
    for (const [keys, what] of group.keys) {
      const dt = document.createElement("dt");
      const kbd = document.createElement("kbd");
      kbd.textContent = keyText(keys);
      dt.append(kbd);
      const dd = document.createElement("dd");
      dd.textContent = what;
      dl.append(dt, dd);
    }
    section.append(h3, dl);
    d.append(section);
  }
  d.addEventListener("close", () => {
    const target = returnTo;
    returnTo = null;
    if (target && target.isConnected && typeof target.focus === "function") target.focus();
  });
  // Keep Tab inside the sheet (a modal <dialog> alone lets it out to the browser's bar).
  d.addEventListener("keydown", (e) => {
    if (e.key !== "Tab") return;
    const items = [...d.querySelectorAll("button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])")];
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && (document.activeElement === first || !d.contains(document.activeElement))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (document.activeElement === last || !d.contains(document.activeElement))) {
      e.preventDefault();
      first.focus();
    }
  });
  // A click on the backdrop (outside the sheet's box) closes it too.
  d.addEventListener("click", (e) => {
    if (e.target === d) {
      const r = d.getBoundingClientRect();
      if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) d.close();
    }
  });
  document.body.append(d);
  return d;
}

/** Open the sheet (idempotent). Focus returns to what had it when the sheet closes. */
export function openShortcuts() {
  if (!dialog) dialog = build();
  if (dialog.open) return true;
  returnTo = document.activeElement;
  dialog.showModal();
  dialog.querySelector(".shortcuts-close").focus();
  return true;
}

function typing(target) {
  if (!target || !(target instanceof Element)) return false;
  return Boolean(target.closest("input, textarea, select, [contenteditable]:not([contenteditable='false'])"));
}

let installed = false;
/** `?` outside fields and Ctrl+/ anywhere open the sheet. */
export function installShortcuts() {
  if (installed) return;
  installed = true;
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented && event.key !== "/") return;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && !event.altKey && (event.key === "/" || event.code === "Slash")) {
      event.preventDefault();
      openShortcuts();
    } else if (event.key === "?" && !mod && !event.altKey && !typing(event.target)) {
      event.preventDefault();
      openShortcuts();
    }
  });
}
