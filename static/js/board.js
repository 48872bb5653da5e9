// The beat board: move cards by drag and by keyboard (no inline scripts or handlers).
//
// A card (li.beat-card, data-move-url) is dropped into an act's list (ol.act-cards,
// data-act); focus a card and Alt+ArrowUp/Down moves it within its act, Alt+ArrowLeft/
// Right to the previous/next act. Each move posts {act, position} and then re-fetches
// the board (#board-live); teammates' boards follow through the story room
// (static/js/story.js). The result is announced in #board-status (aria-live).
(function () {
  "use strict";

  function csrfToken() {
    const headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function live() { return document.getElementById("board-live"); }

  function announce(text) {
    const status = document.getElementById("board-status");
    if (!status) return;
    status.textContent = "";
    setTimeout(function () { status.textContent = text; }, 30);
  }

  // Replace the board with the server's, keeping focus on a card if asked.
  function refresh(focusId) {
    const el = live();
    if (!el) return Promise.resolve();
    return fetch(el.getAttribute("hx-get"), { headers: { "HX-Request": "true" } })
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (html) {
        if (html === null) return;
        const holder = document.createElement("template");
        holder.innerHTML = html.trim();
        const fresh = holder.content.firstElementChild;
        const current = live();
        if (!fresh || !current) return;
        current.replaceWith(fresh);
        if (window.htmx) window.htmx.process(fresh);
        if (focusId) {
          const card = document.getElementById(`beat-${focusId}`);
          if (card) card.focus({ preventScroll: true });
        }
      });
  }

  function move(card, act, position, how) {
    const body = new URLSearchParams({ act: String(act), position: String(position) });
    const title = card.dataset.title || "card";
    const id = card.dataset.beatId;
    return fetch(card.dataset.moveUrl, {
      method: "POST", body: body,
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          announce(data.error || "The card could not be moved.");
        } else {
          announce(`Moved “${title}” to act ${data.act}, card ${data.position + 1} of ${data.count}${how || ""}.`);
        }
        return refresh(id);
      });
    });
  }

  function cardsOf(list) { return Array.from(list.querySelectorAll(":scope > .beat-card")); }

  function actList(act) {
    return document.querySelector(`#board-live ol.act-cards[data-act="${act}"]`);
  }

  // Keyboard: Alt+arrows on a focused card.
  document.addEventListener("keydown", function (event) {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    const card = event.target.closest && event.target.closest(".beat-card[data-move-url]");
    if (!card || event.target !== card) return;
    const list = card.parentElement;
    const act = Number(list.dataset.act);
    const index = cardsOf(list).indexOf(card);
    let target = null;
    if (event.key === "ArrowUp" && index > 0) target = [act, index - 1];
    else if (event.key === "ArrowDown" && index < cardsOf(list).length - 1) target = [act, index + 1];
    else if (event.key === "ArrowLeft" && actList(act - 1)) {
      target = [act - 1, Math.min(index, cardsOf(actList(act - 1)).length)];
    } else if (event.key === "ArrowRight" && actList(act + 1)) {
      target = [act + 1, Math.min(index, cardsOf(actList(act + 1)).length)];
    }
    if (!["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"].includes(event.key)) return;
    event.preventDefault();
    if (!target) { announce("The card cannot move further that way."); return; }
    move(card, target[0], target[1]);
  });

  // Live refreshes (story:board from the story room) replace #board-live. Cards hold
  // no text fields, so a focused card does not hold a refresh back (story.js holds
  // [data-story-live] fragments while focused): it is focused again after the swap. A
  // refresh during a drag waits for the drop, which refreshes anyway.
  let dragged = null;
  let refocus = null;
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    const el = event.detail && event.detail.elt;
    if (el && el.id === "board-live" && dragged) event.preventDefault();
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    const el = event.detail && event.detail.elt;
    if (!el || el.id !== "board-live") return;
    const active = document.activeElement;
    const card = active && active.closest && active.closest(".beat-card");
    refocus = card && el.contains(card) ? card.id : null;
  });
  document.body.addEventListener("htmx:afterSettle", function () {
    if (!refocus) return;
    const card = document.getElementById(refocus);
    refocus = null;
    if (card) card.focus({ preventScroll: true });
  });

  // Drag and drop (delegated: the board is replaced on every refresh).
  document.addEventListener("dragstart", function (e) {
    const card = e.target.closest && e.target.closest(".beat-card[data-move-url]");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.dataset.beatId);
  });
  document.addEventListener("dragover", function (e) {
    if (!dragged) return;
    const list = e.target.closest && e.target.closest("#board-live ol.act-cards");
    if (!list) return;
    e.preventDefault();
    const over = e.target.closest(".beat-card");
    if (over && over !== dragged && over.parentElement === list) {
      const rect = over.getBoundingClientRect();
      const after = e.clientY > rect.top + rect.height / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    } else if (!over) {
      const empty = list.querySelector(".act-empty");
      if (empty) empty.remove();
      if (dragged.parentElement !== list) list.appendChild(dragged);
    }
  });
  document.addEventListener("drop", function (e) {
    if (dragged) e.preventDefault();
  });
  document.addEventListener("dragend", function () {
    if (!dragged) return;
    const card = dragged;
    dragged = null;
    card.classList.remove("dragging");
    const list = card.parentElement;
    if (!list || !list.matches("ol.act-cards")) { refresh(); return; }
    const act = Number(list.dataset.act);
    const position = cardsOf(list).indexOf(card);
    if (act === Number(card.dataset.act) && position === Number(card.dataset.position)) return;
    move(card, act, position);
  });
})();
