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

from collections.abc import Iterable

from generation.core.tokenizer import ScriptTokenizer


def format_prompt(
    tok: ScriptTokenizer,
    heading: str = "",
    cast: Iterable[str] = (),
    synopsis: str = "",
    text_prefix: str = "",
) -> list[int]:
    """Return the prompt token ids that ask the model to write (or continue) a scene."""
    ids = [tok.heading_id, *tok.encode(heading.strip())]
    ids += [tok.cast_id, *tok.encode(", ".join(c.strip() for c in cast if c.strip()))]
    ids += [tok.synopsis_id, *tok.encode(synopsis.strip())]
    ids += [tok.text_id, *tok.encode(text_prefix)]
    return ids


def format_document(tok: ScriptTokenizer, doc: dict) -> tuple[list[int], list[int]]:
    """Return ``(ids, mask)`` for a corpus document; ``mask[i]`` = 1 where ``ids[i]`` is a target."""
    prompt = format_prompt(
        tok, doc.get("heading", ""), doc.get("cast", ()), doc.get("synopsis", "")
    )
    body = [*tok.encode(doc["text"]), tok.end_id]
    return prompt + body, [0] * len(prompt) + [1] * len(body)


def prompt_text(
    heading: str = "", cast: Iterable[str] = (), synopsis: str = "", text_prefix: str = ""
) -> str:
    """Return a plain-text Fountain prompt for models that do not know our control tokens."""
    parts = []
    if heading.strip():
        parts.append(heading.strip().upper())
    cast = [c.strip() for c in cast if c.strip()]
    if cast:
        parts.append("/* Cast: " + ", ".join(cast) + " */")
    if synopsis.strip():
        parts.append("= " + synopsis.strip())
    return "\n\n".join(parts) + "\n\n" + text_prefix
