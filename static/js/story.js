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
// The page that made a change is told too (another of its fragments may show the part),
// but the fragment its own answer replaced is not fetched again: each changing request
// from a fragment carries a name (X-Cowrite-Origin: this page's random id and a counter;
// cowrite/origin.py), the signal of that change carries it back (data-origin, to the
// same user only), and that one fragment keeps the answer, notice and all.
(function () {
  "use strict";
  const pending = new Map(); // element -> true: refreshes held while the writer is in it

  const PAGE = (Math.random().toString(36).slice(2) + "0000000000").slice(0, 12);
  let sent = 0;
  const own = new Map(); // request name -> id of the live fragment its answer replaces
  const ownFired = {}; // fragment id -> when the signal of its own change came
  const answeredAt = {}; // fragment id -> when the last answered change of it was sent

  function busy(el) {
    return el.dataset.storyBusy === "true" || el.contains(document.activeElement);
  }

  // A fragment swapped in listens only once htmx has processed it (after the settle
  // delay), so a signal arriving in between would be missed: each fragment's last request
  // is timed, and a fragment loaded with a signal of its part newer than that asks again.
  const firedAt = {}; // part -> when its last signal came
  const askedAt = {}; // fragment id -> when its content was last asked for
  const PART_RE = /story:([a-z]+) from:body/g;

  function fire(part, item, skip) {
    firedAt[part] = performance.now();
    if (skip) ownFired[skip] = firedAt[part];
    document.body.dispatchEvent(new CustomEvent(`story:${part}`, { detail: { item, skip } }));
  }

  function liveId(target) {
    const live = target && target.closest && target.closest("[data-story-live]");
    return live && live.id ? live.id : "";
  }

  document.body.addEventListener("htmx:configRequest", function (event) {
    const config = event.detail;
    if (!config) return;
    const verb = (config.verb || "get").toLowerCase();
    if (verb === "get") {
      // The refresh a signal of this fragment's own change would start: not needed.
      const trigger = config.triggeringEvent;
      const skip = trigger && trigger.detail && trigger.detail.skip;
      if (skip && config.elt && config.elt.id === skip) event.preventDefault();
      return;
    }
    const id = liveId(config.target);
    if (!id) return;
    const name = `${PAGE}.${++sent}`;
    config.headers["X-Cowrite-Origin"] = name;
    own.set(name, id);
    if (own.size > 64) own.delete(own.keys().next().value); // answers that changed nothing
  });

  // The event's target is the element swapped out; read the one swapped in (htmx may
  // report one swap twice: a signal is handled once, by its data-at).
  let lastSignal = "";
  document.body.addEventListener("htmx:oobAfterSwap", function (event) {
    const target = event.detail && event.detail.target;
    if (!target || target.id !== "story-signal") return;
    const el = document.getElementById("story-signal");
    if (!el || !el.dataset.part || el.dataset.at === lastSignal) return;
    lastSignal = el.dataset.at || "";
    const origin = el.dataset.origin || "";
    const skip = own.get(origin) || "";
    own.delete(origin);
    fire(el.dataset.part, Number(el.dataset.item || 0), skip);
  });

  // Hold a refresh aimed at a fragment someone is typing in; run it when they leave.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    const el = event.detail && event.detail.elt;
    const target = event.detail && event.detail.target;
    const live = target && target.closest && target.closest("[data-story-live]");
    if (event.detail.xhr) event.detail.xhr.cowriteAsked = performance.now();
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
      const fired = firedAt[match[1]] || -1;
      // Not when that signal was of this fragment's own change: the answer shows it.
      if (fired > asked && ownFired[el.id] !== fired) {
        htmx.trigger(el, "story:resume");
        return;
      }
    }
  });
  // A refresh asked for before this page sent a change of the same fragment, answered
  // after that change's answer, would put the older state back over it: dropped.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    const config = event.detail && event.detail.requestConfig;
    const xhr = event.detail && event.detail.xhr;
    if (!config || !xhr || !event.detail.shouldSwap) return;
    const id = liveId(config.target);
    if (!id) return;
    if ((config.verb || "get").toLowerCase() !== "get") {
      answeredAt[id] = Math.max(answeredAt[id] || -1, xhr.cowriteAsked || -1);
    } else if ((answeredAt[id] || -1) > (xhr.cowriteAsked || Infinity)) {
      event.detail.shouldSwap = false;
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
