// The book's passage beside a scene made from it (templates/partials/source_passage.html):
// a marked quotation moves the editor's cursor to the line it became; the cursor on a
// line of dialogue shows (and flashes) the words it came from.
(function () {
  "use strict";
  const box = document.getElementById("source-passage");
  if (!box) return;

  function flash(mark) {
    box.querySelectorAll("mark.current").forEach((m) => m.classList.remove("current"));
    mark.classList.add("current");
    mark.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function goTo(line) {
    const api = window.cowriteEditor;
    if (!api || !api.view) return;
    const doc = api.view.state.doc;
    if (line < 1 || line > doc.lines) return;
    const at = doc.line(line).from;
    api.view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
    api.view.focus();
  }

  box.addEventListener("click", (event) => {
    const mark = event.target.closest("mark[data-cue-line]");
    if (!mark) return;
    flash(mark);
    goTo(Number(mark.dataset.cueLine));
  });
  box.addEventListener("keydown", (event) => {
    const mark = event.target.closest("mark[data-cue-line]");
    if (!mark || (event.key !== "Enter" && event.key !== " ")) return;
    event.preventDefault();
    flash(mark);
    goTo(Number(mark.dataset.cueLine));
  });

  // The cursor on a line of dialogue (or on its cue, the line above): its source words.
  function fromCursor() {
    const api = window.cowriteEditor;
    if (!api || !api.view) return;
    const state = api.view.state;
    const line = state.doc.lineAt(state.selection.main.head).number;
    const mark = box.querySelector(`mark[data-cue-line="${line}"]`) ||
      box.querySelector(`mark[data-cue-line="${line + 1}"]`);
    if (mark) flash(mark);
  }
  const editor = document.getElementById("live-editor");
  if (editor) {
    editor.addEventListener("click", () => setTimeout(fromCursor, 0));
    editor.addEventListener("keyup", () => setTimeout(fromCursor, 0));
  }
})();
