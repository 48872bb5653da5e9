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
   - continue: the scene's current text;
   - rewrite: the scene's text up to the selection (the model writes the replacement).

Budget: the prompt may use ``block_size - max_new_tokens`` tokens. When it is over, the
brief loses its parts from the end (previous scenes first, then cast descriptions), then
the text is cut from the left (the model needs the most recent lines most). What was cut
is recorded in the prompt, stored on each passage exactly as the model saw it.
"""

from dataclasses import dataclass, field

from generation.core.prompting import format_prompt

from .models import DraftTask, Scene

PREVIOUS_SCENES = 3


@dataclass
class BuiltPrompt:
    heading: str
    cast: list[str]
    synopsis: str
    text: str
    token_ids: list[int]
    dropped: list[str] = field(default_factory=list)

    def as_record(self) -> dict:
        """Return what is stored on the passage: the fields, token count and cuts."""
        return {
            "heading": self.heading,
            "cast": self.cast,
            "synopsis": self.synopsis,
            "text": self.text,
            "tokens": len(self.token_ids),
            "dropped": self.dropped,
        }


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
) -> BuiltPrompt:
    """Build the prompt for one request within the model's context budget (see above)."""
    cast = list(scene.cast.all())
    names = [c.name for c in cast]
    if task == DraftTask.NEW:
        text = ""
    elif task == DraftTask.CONTINUE:
        text = scene_text
    else:
        start = selection[0] if selection else len(scene_text)
        text = scene_text[:start]
    parts = _brief_parts(scene, task, instruction, cast)
    budget = max(16, block_size - max_new_tokens)
    dropped: list[str] = []

    def assemble() -> BuiltPrompt:
        synopsis = "\n".join(p[1] for p in parts)
        ids = format_prompt(tokenizer, scene.heading, names, synopsis, text)
        return BuiltPrompt(scene.heading, names, synopsis, text, ids, dropped)

    built = assemble()
    # Drop brief parts from the end, but keep the scene's own synopsis and instruction.
    while (
        len(built.token_ids) > budget
        and parts
        and parts[-1][0] in ("previous scene", "cast descriptions")
    ):
        dropped.append(parts.pop()[0])
        built = assemble()
    if len(built.token_ids) > budget and text:
        # Cut the text from the left, at a line break where possible.
        over = len(built.token_ids) - budget
        ids = tokenizer.encode(text)
        cut = tokenizer.decode(ids[over:])
        newline = cut.find("\n")
        text = (cut[newline + 1 :] if 0 <= newline < 200 else cut).lstrip("\n")
        dropped.append("start of the text")
        built = assemble()
    return built
