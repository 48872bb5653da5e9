"""Training/inference layout of a scene document.

A document becomes one token sequence::

    <|heading|>INT. ELSINORE - A PLATFORM<|cast|>HAMLET, HORATIO<|synopsis|>They see the
    ghost.<|text|>HAMLET\\nWho's there?...<|end|>

The loss is taken only on the text and the closing ``<|end|>`` (``mask`` = 1 there): the
heading, cast and synopsis are conditioning that a request supplies, so the model learns
to *write a scene given where/who/what*, not to invent headings. At inference
``format_prompt`` produces the same prefix up to ``<|text|>`` (plus any text already
written), and generation stops at ``<|end|>``.

A model trained with the story recipe (``recipe.py``; its tokenizer ``has_slots``) reads
the same fields with the cast as character slots (``<|cast|><|c1|>, <|c2|>``, the names
in the synopsis and text as those slots too) and, for a rewrite, the text after the
selection before ``<|text|>`` (``<|suffix|>AFTER<|text|>BEFORE``: fill in the middle).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from generation.core.recipe import CastSlots, cast_field_ids, encode_marked, slot_order

if TYPE_CHECKING:
    from generation.core.tokenizer import ScriptTokenizer


@dataclass(frozen=True, slots=True)
class Prompt:
    """What the model is asked: where (heading), who (cast), what (synopsis), and the text
    it continues (``text_prefix``; empty for a new scene).

    The one shape of a prompt from the request to the engine: drafts, the API, training
    examples and exports all carry a ``Prompt`` (stored and exported as ``as_dict()``).
    Frozen and hashable, so it can key comparisons (preference pairs share a prompt).
    """

    heading: str = ""
    cast: tuple[str, ...] = ()
    synopsis: str = ""
    text_prefix: str = ""
    text_suffix: str = ""
    # What is asked: "scene" (a scene's text), or a level of the story above it
    # ("logline", "characters", "beats", "brief": ``storylevels.py``). The house model
    # reads the level from the heading field (``storylevels.level_heading``); a model
    # without our control tokens gets a plain instruction per level (``prompt_text``).
    kind: str = "scene"

    KEYS: ClassVar[tuple[str, ...]] = (
        "heading",
        "cast",
        "synopsis",
        "text_prefix",
        "text_suffix",
        "kind",
    )

    def __post_init__(self):
        for name in ("heading", "synopsis", "text_prefix", "text_suffix", "kind"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"prompt {name}: give a string")
        if isinstance(self.cast, str) or not all(isinstance(c, str) for c in self.cast):
            raise ValueError("prompt cast: give a list of names")
        object.__setattr__(self, "cast", tuple(self.cast))

    def as_dict(self) -> dict:
        """The JSON form (stored on passages, exported in TRL records); ``text_suffix``
        only when there is one (a rewrite's), so other records keep their shape."""
        out = {
            "heading": self.heading,
            "cast": list(self.cast),
            "synopsis": self.synopsis,
            "text_prefix": self.text_prefix,
        }
        if self.text_suffix:
            out["text_suffix"] = self.text_suffix
        if self.kind != "scene":
            out["kind"] = self.kind
        return out

    @classmethod
    def from_dict(cls, d: Mapping) -> Prompt:
        """Read the JSON form; missing keys are empty, other keys are ignored (a stored
        record also carries ``tokens`` and ``dropped``); wrong types raise ValueError."""
        if not isinstance(d, Mapping):
            raise ValueError("a prompt is an object")
        return cls(**{k: d[k] for k in cls.KEYS if d.get(k) is not None})


SUFFIX_TOKENS = 96  # the most text-after-the-selection a rewrite shows (recipe.py trains on this)


def prompt_budget(block_size: int, max_new_tokens: int) -> int:
    """The most prompt tokens a request may use: the rest of the block is for the
    completion, but the prompt keeps at least half the block (the engine cuts longer
    prompts from the left by this same rule)."""
    return block_size - min(max_new_tokens, block_size // 2)


def prompt_slots(prompt: Prompt) -> CastSlots:
    """The character slots of a prompt's cast (``recipe.slot_order``: who already speaks in
    the text first); the engine renders a draft's slots with the same."""
    return CastSlots(slot_order(prompt.cast, prompt.text_prefix))


def encode_text(tok: ScriptTokenizer, prompt: Prompt, text: str) -> list[int]:
    """Token ids of a text written for ``prompt`` (a completion): slotted like the prompt
    for a story-recipe tokenizer, plain otherwise."""
    if not tok.has_slots:
        return tok.encode(text)
    return encode_marked(tok, prompt_slots(prompt).slotify(text))


def format_prompt(tok: ScriptTokenizer, prompt: Prompt) -> list[int]:
    """Return the prompt token ids that ask the model to write (or continue) a scene."""
    if tok.has_slots:
        slots = prompt_slots(prompt)
        slotted = {k.upper() for k in slots.names}
        extra = [c for c in prompt.cast if c.strip() and " ".join(c.upper().split()) not in slotted]
        ids = [tok.heading_id, *tok.encode(prompt.heading.strip())]
        ids += [tok.cast_id, *cast_field_ids(tok, len(slots.names), extra)]
        ids += [tok.synopsis_id, *encode_marked(tok, slots.slotify(prompt.synopsis.strip()))]
        if prompt.text_suffix:
            ids += [tok.suffix_id, *encode_marked(tok, slots.slotify(prompt.text_suffix))]
        return [*ids, tok.text_id, *encode_marked(tok, slots.slotify(prompt.text_prefix))]
    ids = [tok.heading_id, *tok.encode(prompt.heading.strip())]
    ids += [tok.cast_id, *tok.encode(", ".join(c.strip() for c in prompt.cast if c.strip()))]
    ids += [tok.synopsis_id, *tok.encode(prompt.synopsis.strip())]
    ids += [tok.text_id, *tok.encode(prompt.text_prefix)]
    return ids


@dataclass
class FittedPrompt:
    """A prompt cut to a token budget, its token ids, and what was cut to fit."""

    prompt: Prompt
    ids: list[int]
    dropped: list[str] = field(default_factory=list)

    def as_record(self) -> dict:
        """What a passage stores: the prompt as the model saw it, its size and the cuts."""
        return {**self.prompt.as_dict(), "tokens": len(self.ids), "dropped": list(self.dropped)}


def fit_prompt(
    tok: ScriptTokenizer,
    *,
    heading: str,
    cast: Iterable[str],
    brief: Sequence[tuple[str, str]],
    text_prefix: str,
    budget: int,
    droppable: Iterable[str] = (),
    text_suffix: str = "",
    kind: str = "scene",
) -> FittedPrompt:
    """Build the prompt within ``budget`` tokens, tokenizing as it goes.

    ``brief`` is the synopsis as labelled parts, joined by newlines. Over budget, parts
    whose label is in ``droppable`` go from the end first; then the text is cut from the
    left at a line break where possible (the model needs the most recent lines most).
    ``text_suffix`` (a rewrite's text after the selection) is kept to its first
    ``SUFFIX_TOKENS`` tokens, for a model that reads it (``tok.has_slots``) and dropped for
    one that does not. Every cut is named in ``dropped``.
    """
    parts, dropped, droppable = list(brief), [], set(droppable)
    if text_suffix and tok.has_slots:
        suffix_ids = tok.encode(text_suffix)
        if len(suffix_ids) > SUFFIX_TOKENS:  # what the model was trained to read after
            cut = tok.decode(suffix_ids[:SUFFIX_TOKENS])
            text_suffix = cut[: cut.rfind("\n") + 1] or cut
            dropped.append("end of the text after the selection")
    else:
        text_suffix = ""

    def assemble(text: str) -> FittedPrompt:
        synopsis = "\n".join(p[1] for p in parts)
        prompt = Prompt(heading, tuple(cast), synopsis, text, text_suffix, kind)
        return FittedPrompt(prompt, format_prompt(tok, prompt), dropped)

    fitted = assemble(text_prefix)
    while len(fitted.ids) > budget and parts and parts[-1][0] in droppable:
        dropped.append(parts.pop()[0])
        fitted = assemble(text_prefix)
    if len(fitted.ids) > budget and text_prefix:
        over = len(fitted.ids) - budget
        cut = tok.decode(tok.encode(text_prefix)[over:])
        newline = cut.find("\n")
        text = (cut[newline + 1 :] if 0 <= newline < 200 else cut).lstrip("\n")
        dropped.append("start of the text")
        fitted = assemble(text)
    return fitted


def format_document(tok: ScriptTokenizer, doc: dict) -> tuple[list[int], list[int]]:
    """Return ``(ids, mask)`` for a corpus document; ``mask[i]`` = 1 where ``ids[i]`` is a target."""
    prompt = format_prompt(
        tok, Prompt(doc.get("heading", ""), tuple(doc.get("cast", ())), doc.get("synopsis", ""))
    )
    body = [*tok.encode(doc["text"]), tok.end_id]  # the first recipe's documents
    return prompt + body, [0] * len(prompt) + [1] * len(body)


def prompt_text(prompt: Prompt) -> str:
    """Return a plain-text prompt for models that do not know our control tokens: a
    Fountain page for a scene, the level's instruction for a story proposal."""
    if prompt.kind != "scene":
        from generation.core.storylevels import heading_act, level_prompt_text

        return level_prompt_text(prompt.kind, prompt.synopsis, heading_act(prompt.heading))
    parts = []
    if prompt.heading.strip():
        parts.append(prompt.heading.strip().upper())
    cast = [c.strip() for c in prompt.cast if c.strip()]
    if cast:
        parts.append("/* Cast: " + ", ".join(cast) + " */")
    if prompt.synopsis.strip():
        parts.append("= " + prompt.synopsis.strip())
    return "\n\n".join(parts) + "\n\n" + prompt.text_prefix
