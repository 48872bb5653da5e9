"""The prompt builder: what the model is told when a collaborator asks for a draft.

The model was trained on scenes laid out as heading, cast, synopsis, then text
(``generation/core/prompting.py``). A request fills those fields the way a writer would
brief a colleague. The rules, in order:

1. **Heading**: the scene's heading, as is.
2. **Cast**: the names of the scene's cast (the model saw names only in training).
3. **Synopsis** (the brief), built from, in this order, each part only if there is one:
   - the scene's synopsis;
   - for a rewrite, "Rewrite: <instruction>"; otherwise the instruction as given;
   - "From the book: <passage>" when the scene was made from a book (adaptation: a new
     scene or a rewrite adapts that passage; at most ``BOOK_CHARS``);
   - "From the card: <title> — <summary>" when the scene was made from a beat-board card
     (the level above the scene: ``story_prompts.py`` builds the levels above that);
   - "Cast: NAME — description; …" for cast members with a description;
   - "Before this: <heading> — <synopsis>" for up to three previous scenes, nearest first;
   - "Story: <logline>" when the project has a logline.
4. **Text** (what the model continues from):
   - new scene: nothing;
   - continue: the scene's text up to the cursor it was asked from (where that cursor's
     relative position is now), or the whole text when asked from the end;
   - rewrite: the scene's text up to the selection (the model writes the replacement),
     and the text after the selection (``text_suffix``, its first lines: a model of the
     story recipe reads it and writes a replacement that leads into it).

Who builds it, and when: the generation worker, when it claims the first passage of a
request (``prompt_for``), with the tokenizer and context size of the model that will run
it — so the prompt is tokenized once, by the one who runs it, against that model's budget
(``core.prompting.prompt_budget``); the request's other alternatives reuse it. Over
budget, the brief loses its parts from the end (the logline, previous scenes, cast
descriptions, the card, then the book's passage), then the text is cut from the left (the model needs the most recent lines
most). What was cut is recorded in the prompt, stored on each passage exactly as the
model saw it (``Passage.prompt``: ``Prompt.as_dict()`` + ``tokens`` + ``dropped``).
"""

from scripts_app import documents, positions
from scripts_app.models import Beat, Project, Scene, SceneSource

from .core.prompting import FittedPrompt, Prompt, fit_prompt, format_prompt, prompt_budget
from .models import DraftTask, Passage, PassageKind
from .story_prompts import build_story_prompt

PREVIOUS_SCENES = 3
CARD_CHARS = 1200  # the most of a card's summary a scene prompt carries
BOOK_CHARS = 6000  # the most of a book's passage a scene prompt carries (adaptation)
DROPPABLE = ("story", "previous scene", "cast descriptions", "card", "book")


def _brief_parts(scene: Scene, task: str, instruction: str, cast) -> list[tuple[str, str]]:
    parts = []
    if scene.synopsis:
        parts.append(("synopsis", scene.synopsis.strip()))
    if instruction:
        parts.append(
            (
                "instruction",
                ("Rewrite: " if task == DraftTask.REWRITE else "") + instruction.strip(),
            )
        )
    passage = SceneSource.objects.select_related("source").filter(scene_id=scene.pk).first()
    if passage is not None and task in (DraftTask.NEW, DraftTask.REWRITE):
        # A scene made from a book: the model adapts the passage (``adaptation.py``).
        book = " ".join(" ".join(passage.paragraphs()).split())
        if len(book) > BOOK_CHARS:
            book = book[:BOOK_CHARS].rsplit(" ", 1)[0] + " …"
        parts.append(("book", f"From the book: {book}"))
    card = Beat.objects.filter(scene_id=scene.pk).only("title", "summary").first()
    if card is not None:
        summary = " ".join(card.summary.split())
        if len(summary) > CARD_CHARS:
            summary = summary[:CARD_CHARS].rsplit(" ", 1)[0] + " …"
        parts.append(
            ("card", f"From the card: {card.title}" + (f" — {summary}" if summary else ""))
        )
    described = [f"{c.name} — {c.description.strip()}" for c in cast if c.description.strip()]
    if described:
        parts.append(("cast descriptions", "Cast: " + "; ".join(described)))
    previous = (
        Scene.objects.filter(project_id=scene.project_id, position__lt=scene.position)
        .order_by("-position")
        .only("heading", "synopsis")[:PREVIOUS_SCENES]
    )
    for prev in previous:
        line = prev.heading + (f" — {prev.synopsis.strip()}" if prev.synopsis.strip() else "")
        parts.append(("previous scene", f"Before this: {line}"))
    logline = Project.objects.values_list("logline", flat=True).get(pk=scene.project_id).strip()
    if logline:
        parts.append(("story", f"Story: {' '.join(logline.split())}"))
    return parts


def build_prompt(
    *,
    scene: Scene,
    task: str,
    instruction: str,
    scene_text: str,
    selection: tuple[int, int] | None,
    tokenizer,
    block_size: int,
    max_new_tokens: int,
) -> FittedPrompt:
    """Build the prompt for one request within the model's context budget (see above).

    Without a tokenizer (a backend that tokenizes for itself) nothing is cut."""
    cast = list(scene.cast.all())
    after = ""
    if task == DraftTask.NEW:
        text = ""
    elif task == DraftTask.CONTINUE:
        text = scene_text[: selection[0]] if selection else scene_text
    else:
        start, end = selection if selection else (len(scene_text), len(scene_text))
        text = scene_text[:start]
        after = scene_text[end:]
    parts = _brief_parts(scene, task, instruction, cast)
    names = tuple(c.name for c in cast)
    if tokenizer is None:
        prompt = Prompt(scene.heading, names, "\n".join(p[1] for p in parts), text)
        return FittedPrompt(prompt, [], [])
    return fit_prompt(
        tokenizer,
        heading=scene.heading,
        cast=names,
        brief=parts,
        text_prefix=text,
        budget=max(16, prompt_budget(block_size, max_new_tokens)),
        droppable=DROPPABLE,
        text_suffix=after,
    )


def find_near(text: str, needle: str, near: int) -> int:
    """Return the occurrence of ``needle`` in ``text`` nearest to ``near`` (or -1)."""
    best, start = -1, text.find(needle)
    while start >= 0:
        if best < 0 or abs(start - near) < abs(best - near):
            best = start
        start = text.find(needle, start + 1)
    return best


def _store(passage: Passage, built: FittedPrompt, tokenizer) -> FittedPrompt:
    """Store a built prompt on every alternative of the request that has none yet; return
    the one this passage has (another alternative's, if that one was stored first)."""
    record = built.as_record()
    Passage.objects.filter(group=passage.group, prompt={}).update(prompt=record)
    passage.prompt = Passage.objects.values_list("prompt", flat=True).get(pk=passage.pk)
    if passage.prompt == record:
        return built
    return _stored(passage, tokenizer)


def _stored(passage: Passage, tokenizer) -> FittedPrompt:
    """The prompt stored on a passage, tokenized for the backend that runs it."""
    prompt = Prompt.from_dict(passage.prompt)
    ids = format_prompt(tokenizer, prompt) if tokenizer is not None else []
    return FittedPrompt(prompt, ids, list(passage.prompt.get("dropped") or []))


def prompt_for(passage: Passage, tokenizer, block_size: int) -> FittedPrompt:
    """The prompt of a claimed passage, built once per request and stored on its passages.

    The first alternative claimed builds it from the scene as it is now (a rewrite finds
    its selection again near where it was; edits since the request are in the text) and
    stores it on every alternative that has none yet; the others read that one, so the
    alternatives of a request — which feedback compares — share one prompt. Tokenized
    here, once per passage, for the backend that runs it."""
    if not passage.prompt and passage.kind != PassageKind.SCENE:
        return _store(passage, build_story_prompt(passage, tokenizer, block_size), tokenizer)
    if not passage.prompt:
        scene = Scene.objects.get(pk=passage.scene_id)
        doc = documents.load(scene.pk).doc if scene.has_live_doc() else None
        text = documents.doc_text(doc) if doc is not None else scene.text
        selection = None
        if passage.task == DraftTask.CONTINUE and passage.selection_start is not None:
            # From the cursor: where its relative position is now (others may have typed
            # before it since the request), else the index it was asked at.
            at = passage.selection_start
            if doc is not None and passage.anchor_start is not None:
                found = positions.Resolver(doc).index(positions.parse(bytes(passage.anchor_start)))
                at = at if found is None else found
            selection = (min(at, len(text)), min(at, len(text)))
        elif passage.task == DraftTask.REWRITE:
            start = passage.selection_start or 0
            if passage.selection_text:
                found = find_near(text, passage.selection_text, start)
                start = found if found >= 0 else min(start, len(text))
            selection = (start, start + len(passage.selection_text))
        built = build_prompt(
            scene=scene,
            task=passage.task,
            instruction=passage.instruction,
            scene_text=text,
            selection=selection,
            tokenizer=tokenizer,
            block_size=block_size,
            max_new_tokens=int(passage.sampling.get("max_new_tokens") or 1),
        )
        return _store(passage, built, tokenizer)
    return _stored(passage, tokenizer)
