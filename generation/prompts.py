"""The prompt builder: what the model is told when a collaborator asks for a draft.

The model was trained on scenes laid out as heading, cast, synopsis, then text
(``generation/core/prompting.py``). A request fills those fields the way a writer would
brief a colleague. The rules, in order:

1. **Heading**: the scene's heading, as is.
2. **Cast**: the names of the scene's cast (the model saw names only in training).
3. **Synopsis** (the brief), built from, in this order, each part only if there is one:
   - the scene's synopsis;
   - for a rewrite, "Rewrite: <instruction>"; otherwise the instruction as given;
   - "Cast: NAME — description; …" for cast members with a description;
   - "Before this: <heading> — <synopsis>" for up to three previous scenes, nearest first.
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
budget, the brief loses its parts from the end (previous scenes first, then cast
descriptions), then the text is cut from the left (the model needs the most recent lines
most). What was cut is recorded in the prompt, stored on each passage exactly as the
model saw it (``Passage.prompt``: ``Prompt.as_dict()`` + ``tokens`` + ``dropped``).
"""

from scripts_app import documents, positions
from scripts_app.models import Scene

from .core.prompting import FittedPrompt, Prompt, fit_prompt, format_prompt, prompt_budget
from .models import DraftTask, Passage

PREVIOUS_SCENES = 3
DROPPABLE = ("previous scene", "cast descriptions")


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


def prompt_for(passage: Passage, tokenizer, block_size: int) -> FittedPrompt:
    """The prompt of a claimed passage, built once per request and stored on its passages.

    The first alternative claimed builds it from the scene as it is now (a rewrite finds
    its selection again near where it was; edits since the request are in the text) and
    stores it on every alternative that has none yet; the others read that one, so the
    alternatives of a request — which feedback compares — share one prompt. Tokenized
    here, once per passage, for the backend that runs it."""
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
        record = built.as_record()
        Passage.objects.filter(group=passage.group, prompt={}).update(prompt=record)
        passage.prompt = Passage.objects.values_list("prompt", flat=True).get(pk=passage.pk)
        if passage.prompt == record:
            return built
    prompt = Prompt.from_dict(passage.prompt)
    ids = format_prompt(tokenizer, prompt) if tokenizer is not None else []
    return FittedPrompt(prompt, ids, list(passage.prompt.get("dropped") or []))
