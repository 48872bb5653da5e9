"""Training/inference layout of a scene document.

A document becomes one token sequence::

    <|heading|>INT. ELSINORE - A PLATFORM<|cast|>HAMLET, HORATIO<|synopsis|>They see the
    ghost.<|text|>HAMLET\\nWho's there?...<|end|>

The loss is taken only on the text and the closing ``<|end|>`` (``mask`` = 1 there): the
heading, cast and synopsis are conditioning that a request supplies, so the model learns
to *write a scene given where/who/what*, not to invent headings. At inference
``format_prompt`` produces the same prefix up to ``<|text|>`` (plus any text already
written), and generation stops at ``<|end|>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

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

    KEYS: ClassVar[tuple[str, ...]] = ("heading", "cast", "synopsis", "text_prefix")

    def __post_init__(self):
        for name in ("heading", "synopsis", "text_prefix"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"prompt {name}: give a string")
        if isinstance(self.cast, str) or not all(isinstance(c, str) for c in self.cast):
            raise ValueError("prompt cast: give a list of names")
        object.__setattr__(self, "cast", tuple(self.cast))

    def as_dict(self) -> dict:
        """The JSON form (stored on passages, exported in TRL records)."""
        return {
            "heading": self.heading,
            "cast": list(self.cast),
            "synopsis": self.synopsis,
            "text_prefix": self.text_prefix,
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> Prompt:
        """Read the JSON form; missing keys are empty, other keys are ignored (a stored
        record also carries ``tokens`` and ``dropped``); wrong types raise ValueError."""
        if not isinstance(d, Mapping):
            raise ValueError("a prompt is an object")
        return cls(**{k: d[k] for k in cls.KEYS if d.get(k) is not None})


def prompt_budget(block_size: int, max_new_tokens: int) -> int:
    """The most prompt tokens a request may use: the rest of the block is for the
    completion, but the prompt keeps at least half the block (the engine cuts longer
    prompts from the left by this same rule)."""
    return block_size - min(max_new_tokens, block_size // 2)


def format_prompt(tok: ScriptTokenizer, prompt: Prompt) -> list[int]:
    """Return the prompt token ids that ask the model to write (or continue) a scene."""
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
) -> FittedPrompt:
    """Build the prompt within ``budget`` tokens, tokenizing as it goes.

    ``brief`` is the synopsis as labelled parts, joined by newlines. Over budget, parts
    whose label is in ``droppable`` go from the end first; then the text is cut from the
    left at a line break where possible (the model needs the most recent lines most).
    Every cut is named in ``dropped``.
    """
    parts, dropped, droppable = list(brief), [], set(droppable)

    def assemble(text: str) -> FittedPrompt:
        synopsis = "\n".join(p[1] for p in parts)
        prompt = Prompt(heading, tuple(cast), synopsis, text)
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
    body = [*tok.encode(doc["text"]), tok.end_id]
    return prompt + body, [0] * len(prompt) + [1] * len(body)


def prompt_text(prompt: Prompt) -> str:
    """Return a plain-text Fountain prompt for models that do not know our control tokens."""
    parts = []
    if prompt.heading.strip():
        parts.append(prompt.heading.strip().upper())
    cast = [c.strip() for c in prompt.cast if c.strip()]
    if cast:
        parts.append("/* Cast: " + ", ".join(cast) + " */")
    if prompt.synopsis.strip():
        parts.append("= " + prompt.synopsis.strip())
    return "\n\n".join(parts) + "\n\n" + prompt.text_prefix
