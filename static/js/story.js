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

  function fire(part, item) {
    document.body.dispatchEvent(new CustomEvent(`story:${part}`, { detail: { item } }));
  }

  document.body.addEventListener("htmx:oobAfterSwap", function (event) {
    const el = event.detail && event.detail.target;
    if (!el || el.id !== "story-signal") return;
    fire(el.dataset.part || "", Number(el.dataset.item || 0));
  });

  // Hold a refresh aimed at a fragment someone is typing in; run it when they leave.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    const el = event.detail && event.detail.elt;
    if (!el || !el.matches("[data-story-live]") || !busy(el)) return;
    event.preventDefault();
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
