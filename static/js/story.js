// The story layer's live pages (bible, characters, plotlines, beat board).
//
// A page opens the story room socket with htmx's ws extension:
//   <div hx-ext="ws" ws-connect="/ws/projects/12/story"><div id="story-signal" hidden></div></div>
// When a teammate changes something, the server swaps #story-signal out of band with
// data-part ("bible", "characters", "plotlines", "board", "beat") and data-item (a beat's
// id, or 0). This script then fires "story:<part>" on document.body (detail: {item}), so a
// fragment that shows that part refreshes itself:
//   <section hx-get="…" hx-trigger="story:board from:body" hx-swap="outerHTML">…</section>
// A fragment being edited right now (focus inside, or data-story-busy set) waits until
// the writer leaves it, so a refresh never takes text out from under someone's cursor.
(function () {
  "use strict";
  const pending = new Map(); // element -> true: refreshes held while the writer is in it

  function busy(el) {
    return el.dataset.storyBusy === "true" || el.contains(document.activeElement);
  }

  // A fragment swapped in listens only once htmx has processed it (after the settle
  // delay), so a signal arriving in between would be missed: each fragment's last request
  // is timed, and a fragment loaded with a signal of its part newer than that asks again.
  const firedAt = {}; // part -> when its last signal came
  const askedAt = {}; // fragment id -> when its content was last asked for
  const PART_RE = /story:([a-z]+) from:body/g;

  function fire(part, item) {
    firedAt[part] = performance.now();
    document.body.dispatchEvent(new CustomEvent(`story:${part}`, { detail: { item } }));
  }

  // The event's target is the element swapped out; read the one swapped in (htmx may
  // report one swap twice: a signal is handled once, by its data-at).
  let lastSignal = "";
  document.body.addEventListener("htmx:oobAfterSwap", function (event) {
    const target = event.detail && event.detail.target;
    if (!target || target.id !== "story-signal") return;
    const el = document.getElementById("story-signal");
    if (!el || !el.dataset.part || el.dataset.at === lastSignal) return;
    lastSignal = el.dataset.at || "";
    fire(el.dataset.part, Number(el.dataset.item || 0));
  });

  // Hold a refresh aimed at a fragment someone is typing in; run it when they leave.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    const el = event.detail && event.detail.elt;
    const target = event.detail && event.detail.target;
    const live = target && target.closest && target.closest("[data-story-live]");
    if (!el || !el.matches("[data-story-live]") || !busy(el)) {
      if (live && live.id) askedAt[live.id] = performance.now();
      return;
    }
    event.preventDefault();
    pending.set(el, true);
  });
  document.body.addEventListener("htmx:load", function (event) {
    const el = event.detail && event.detail.elt;
    if (!el || !el.matches || !el.matches("[data-story-live]") || !el.id) return;
    const asked = askedAt[el.id];
    if (asked === undefined) return;
    for (const match of (el.getAttribute("hx-trigger") || "").matchAll(PART_RE)) {
      if ((firedAt[match[1]] || -1) > asked) { htmx.trigger(el, "story:resume"); return; }
    }
  });
  // A refresh already on its way when the writer started typing is not swapped in either.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    const el = event.detail && event.detail.elt;
    const config = event.detail && event.detail.requestConfig;
    if (!el || !el.matches || !el.matches("[data-story-live]") || !busy(el)) return;
    if (config && config.verb && config.verb !== "get") return;
    event.detail.shouldSwap = false;
    pending.set(el, true);
  });
  document.addEventListener("focusout", function () {
    setTimeout(function () {
      for (const el of Array.from(pending.keys())) {
        if (!document.body.contains(el)) { pending.delete(el); continue; }
        if (!busy(el)) { pending.delete(el); htmx.trigger(el, "story:resume"); }
      }
    }, 0);
  });
})();
