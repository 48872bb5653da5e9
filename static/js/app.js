// Small page behaviours: keyboard shortcuts, the scene filter, drag-to-reorder.
// Everything here is an enhancement; every action also works as a plain form.
(function () {
  "use strict";

  function csrfToken() {
    const headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRFToken"]; } catch (e) { return ""; }
  }

  // Forms that ask first (data-confirm) and selects that submit on change
  // (data-autosubmit): no inline handlers, so the Content-Security-Policy can forbid them.
  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) {
      // Stopped here, in the capture phase, so htmx (which posts hx-post forms even when
      // the submit was prevented) never sees it either.
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);
  // A panel that answers a refused request with 4xx and the reason inside it opts in with
  // data-swap-errors: htmx 2 drops 4xx bodies unless told to swap them.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    const elt = event.detail.elt;
    if (status >= 400 && status < 500 && elt && elt.closest && elt.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("change", function (event) {
    const field = event.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.requestSubmit();
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  // Ctrl/Cmd+S saves the scene; Alt+ArrowUp/Down moves between scenes.
  document.addEventListener("keydown", function (event) {
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.key.toLowerCase() === "s") {
      const form = document.getElementById("editor-form");
      if (form) { event.preventDefault(); form.requestSubmit(); }
    } else if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      const link = document.querySelector(`.scene-nav a[data-key="${event.key === "ArrowUp" ? "prev" : "next"}"]`);
      if (link) { event.preventDefault(); window.location.href = link.href; }
    }
  });

  // Drag to reorder: on drop, post the whole order; a 409 means the list changed.
  const nav = document.getElementById("navigator");
  if (nav && nav.dataset.reorderUrl) {
    let dragged = null;
    nav.addEventListener("dragstart", function (e) {
      dragged = e.target.closest(".nav-scene");
      if (dragged) dragged.classList.add("dragging");
    });
    nav.addEventListener("dragover", function (e) {
      const over = e.target.closest(".nav-scene");
      if (!dragged || !over || over === dragged) return;
      e.preventDefault();
      const rect = over.getBoundingClientRect();
      const after = e.clientY > rect.top + rect.height / 2;
      over.parentNode.insertBefore(dragged, after ? over.nextSibling : over);
    });
    nav.addEventListener("dragend", function () {
      if (!dragged) return;
      dragged.classList.remove("dragging");
      dragged = null;
      const order = Array.from(nav.querySelectorAll(".nav-scene")).map((li) => li.dataset.sceneId);
      const body = new URLSearchParams({ order: order.join(",") });
      fetch(nav.dataset.reorderUrl, {
        method: "POST", body: body,
        headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
      }).then(function (resp) {
        if (!resp.ok) alert("The scene list changed while you were reordering; reloading it.");
        // Renumber from the server's truth either way.
        window.location.reload();
      });
    });
  }
})();
