"""The prompt of a story proposal: each level is asked with the level above it.

Story development goes down a hierarchy (as in Dramatron: logline → characters → beats
→ scenes): what the model is asked at one level is conditioned on what the team has
already decided above it, so each step follows the story. A proposal's prompt is the
same ``Prompt`` as a scene draft's, with ``kind`` naming the level and the heading field
marking it for the house model (``storylevels.level_heading``: "STORY — BEATS, ACT 2");
the context goes in the synopsis as labelled parts; nothing is continued (no text).

What each level reads, in order of importance (the parts after the first may be cut):

- **logline**: the writer's instruction; title, genre, tone; themes; setting notes;
  the characters (name, role, want); the current logline (to improve on); the treatment.
- **characters**: instruction; logline; genre and tone; who is already in the cast
  (name and role: new characters must differ); themes; setting notes; the treatment.
- **beats** (for one act): instruction; logline; which act of how many, and what the
  act already holds (its cards, in order: the new beats come after them); the
  characters (name, role, want); the plotlines; the last cards of the act before; the
  first cards of the act after.
- **brief** (for one card): instruction; the card (title, summary, act and sequence,
  target length); its plotlines; its characters with want and voice; the logline; the
  card before it and the card after it.

Long fields are cut to a few thousand characters first (a treatment can be 100,000);
then, over the model's token budget, parts go from the end (``fit_prompt``). Every cut
is recorded (``dropped``) and shown on the card in writers' words
(``Passage.left_out``).
"""

from scripts_app.models import Beat, Character, Plotline, Project, StoryBible

from .core.prompting import FittedPrompt, Prompt, fit_prompt, prompt_budget
from .core.storylevels import level_heading
from .models import STORY_DROPPED_WORDS, Passage, PassageKind

# The most characters of one long field a prompt carries (the rest is named as cut).
FIELD_CHARS = {"treatment": 4000, "setting": 1500, "themes": 800, "summary": 1200}
CARDS_AROUND = 4  # cards of the neighbouring acts a beats prompt shows
CHARACTERS_SHOWN = 24


def _cut(text: str, limit: int) -> tuple[str, bool]:
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + " …", True


class _Parts:
    """The labelled parts of a prompt's context, and what was cut on the way."""

    def __init__(self):
        self.parts: list[tuple[str, str]] = []
        self.cut: list[str] = []

    def add(self, label: str, text: str, *, limit: int | None = None) -> None:
        text = (text or "").strip()
        if not text:
            return
        if limit is not None:
            text, was_cut = _cut(text, limit)
            if was_cut:
                self.cut.append(f"{label} (end)")
        self.parts.append((label, text))


def _character_line(c: Character, *, want: bool = True, voice: bool = False) -> str:
    line = c.name + (f" ({c.get_role_display().lower()})" if c.role else "")
    details = []
    if want and c.want.strip():
        details.append("wants " + " ".join(c.want.split()))
    if voice and c.voice.strip():
        details.append("voice: " + " ".join(c.voice.split()))
    return line + (" — " + "; ".join(details) if details else "")


def _card_line(b: Beat, *, summary: bool = True) -> str:
    text = b.title
    if summary and b.summary.strip():
        text += " — " + _cut(b.summary, FIELD_CHARS["summary"])[0]
    return text


def _characters(project: Project) -> list[Character]:
    return list(Character.objects.filter(project=project).order_by("name")[: CHARACTERS_SHOWN * 4])


def _ranked(characters: list[Character]) -> list[Character]:
    """Principal roles first (a protagonist before a minor part), then by name."""
    order = {
        "protagonist": 0,
        "antagonist": 1,
        "deuteragonist": 2,
        "love_interest": 3,
        "mentor": 4,
        "ally": 5,
        "supporting": 6,
        "": 7,
        "minor": 8,
    }
    return sorted(characters, key=lambda c: (order.get(c.role, 7), c.name))[:CHARACTERS_SHOWN]


def story_parts(passage: Passage) -> tuple[list[tuple[str, str]], list[str], tuple[str, ...]]:
    """The context parts of a story proposal (most important first), what was cut from
    long fields, and the names for the cast field (the characters the story has)."""
    project = Project.objects.get(pk=passage.project_id)
    bible = StoryBible.objects.filter(project=project).first() or StoryBible(project=project)
    kind = passage.kind
    out = _Parts()
    out.add("instruction", passage.instruction)
    characters = _ranked(_characters(project))
    names = tuple(c.name for c in characters)
    genre = ", ".join(x for x in (project.genre.strip(), bible.tone.strip()) if x)
    if kind == PassageKind.LOGLINE:
        out.add("title", f"Title: {project.title}")
        out.add("genre", f"Genre and tone: {genre}" if genre else "")
        out.add("themes", f"Themes: {bible.themes}" if bible.themes.strip() else "", limit=800)
        out.add("setting", f"Setting: {bible.setting}" if bible.setting.strip() else "", limit=1500)
        if characters:
            out.add("characters", "Characters: " + "; ".join(map(_character_line, characters)))
        if project.logline.strip():
            out.add("current logline", f"Current logline: {project.logline}")
        out.add(
            "treatment",
            f"Treatment: {bible.treatment}" if bible.treatment.strip() else "",
            limit=FIELD_CHARS["treatment"],
        )
    elif kind == PassageKind.CHARACTERS:
        out.add("logline", f"Logline: {project.logline}" if project.logline.strip() else "")
        out.add("genre", f"Genre and tone: {genre}" if genre else "")
        if characters:
            out.add(
                "cast",
                "Already in the cast (propose others): "
                + "; ".join(_character_line(c, want=False) for c in characters),
            )
        out.add("themes", f"Themes: {bible.themes}" if bible.themes.strip() else "", limit=800)
        out.add("setting", f"Setting: {bible.setting}" if bible.setting.strip() else "", limit=1500)
        out.add(
            "treatment",
            f"Treatment: {bible.treatment}" if bible.treatment.strip() else "",
            limit=FIELD_CHARS["treatment"],
        )
    elif kind == PassageKind.BEATS:
        act = passage.act or 1
        cards = list(
            Beat.objects.filter(project=project, act__in=(act - 1, act, act + 1)).order_by(
                "act", "position", "pk"
            )
        )
        acts = max([act, 3, *Beat.objects.filter(project=project).values_list("act", flat=True)])
        out.add("logline", f"Logline: {project.logline}" if project.logline.strip() else "")
        here = [b for b in cards if b.act == act]
        line = f"Act {act} of {acts}."
        if here:
            line += " It holds so far: " + " | ".join(
                f"{i}. {_card_line(b)}" for i, b in enumerate(here, 1)
            )
        out.add("act so far", line)
        if characters:
            out.add("characters", "Characters: " + "; ".join(map(_character_line, characters)))
        plotlines = list(Plotline.objects.filter(project=project).order_by("position", "pk"))
        if plotlines:
            out.add(
                "plotlines",
                "Plotlines: "
                + "; ".join(
                    f"[{p.label}] {p.name}"
                    + (f" — {p.description.strip()}" if p.description else "")
                    for p in plotlines
                ),
            )
        before = [b for b in cards if b.act == act - 1][-CARDS_AROUND:]
        if before:
            out.add(
                "act before",
                f"Act {act - 1} ends: " + " | ".join(_card_line(b, summary=False) for b in before),
            )
        after = [b for b in cards if b.act == act + 1][:CARDS_AROUND]
        if after:
            out.add(
                "act after",
                f"Act {act + 1} begins: " + " | ".join(_card_line(b, summary=False) for b in after),
            )
    elif kind == PassageKind.BRIEF:
        beat = (
            Beat.objects.filter(pk=passage.beat_id, project=project)
            .prefetch_related("plotlines", "characters")
            .first()
        )
        if beat is not None:
            card = f"Card: {_card_line(beat)}"
            where = f"act {beat.act}" + (f", {beat.sequence}" if beat.sequence else "")
            card += f" ({where})"
            if beat.target_eighths:
                pages = beat.target_eighths / 8
                card += f"; about {pages:g} page{'s' if pages != 1 else ''}"
            out.add("card", card)
            if beat.scene_id is not None:
                out.add("heading", f"Scene: {beat.scene.heading}")
            on = list(beat.plotlines.all())
            if on:
                out.add("plotlines", "Plotlines: " + "; ".join(f"[{p.label}] {p.name}" for p in on))
            who = list(beat.characters.all())
            if who:
                out.add(
                    "card characters",
                    "In it: " + "; ".join(_character_line(c, voice=True) for c in who),
                )
                names = tuple(c.name for c in who)
            out.add("logline", f"Logline: {project.logline}" if project.logline.strip() else "")
            order = list(
                Beat.objects.filter(project=project)
                .order_by("act", "position", "pk")
                .values_list("pk", flat=True)
            )
            at = order.index(beat.pk)
            near = Beat.objects.in_bulk(
                [pk for pk in order[max(0, at - 1) : at + 2] if pk != beat.pk]
            )
            if at > 0 and order[at - 1] in near:
                out.add("card before", "Before it: " + _card_line(near[order[at - 1]]))
            if at + 1 < len(order) and order[at + 1] in near:
                out.add("card after", "After it: " + _card_line(near[order[at + 1]]))
    return out.parts, out.cut, names


# Parts that may be cut to fit, per level (``fit_prompt`` cuts from the end of the list
# of parts, so the order of ``story_parts`` is the order of importance).
DROPPABLE = frozenset(STORY_DROPPED_WORDS)


def build_story_prompt(passage: Passage, tokenizer, block_size: int) -> FittedPrompt:
    """The prompt of a story proposal within the model's budget (see the module doc)."""
    parts, cut, names = story_parts(passage)
    heading = level_heading(passage.kind, passage.act if passage.kind == "beats" else None)
    if tokenizer is None:
        synopsis = "\n".join(p[1] for p in parts)
        return FittedPrompt(Prompt(heading, names, synopsis, "", "", passage.kind), [], cut)
    max_new = int(passage.sampling.get("max_new_tokens") or 1)
    fitted = fit_prompt(
        tokenizer,
        heading=heading,
        cast=names,
        brief=parts,
        text_prefix="",
        budget=max(16, prompt_budget(block_size, max_new)),
        droppable=DROPPABLE,
        kind=passage.kind,
    )
    fitted.dropped = [*cut, *fitted.dropped]
    return fitted
