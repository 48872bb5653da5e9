"""Fine-tuning examples as tokens: encode, batch, and score their completion tokens.

Two kinds of examples (``examples.py``), both tied to a *prompt* = the request fields that
``prompting.py`` turns into tokens (a ``prompting.Prompt``):

* ``SFTExample(prompt, completion)``: "for this request, write this". Trained with the
  usual next-token cross-entropy, but only on the completion tokens (+ ``<|end|>``)
  (``finetune.py``).
* ``PreferencePair(prompt, chosen, rejected)``: "for this request, this completion is
  better than that one". Trained with DPO (``dpo.py``).

Token layout of one example (``encode_example``)::

    format_prompt(tok, prompt)             completion tokens        <|end|>
    <|heading|>...<|cast|>...<|text|>...   ...........................
    \\_______ conditioning (no loss) ____/ \\__ scored: loss / log-probs __/

This is the same layout as a training document (``prompting.format_document``), so a
model fine-tuned on it generates the same way through the engine. A sequence longer than
``block_size + 1`` loses prompt tokens from the *left* (the most recent context matters
most); an example whose completion alone does not fit is skipped and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

from generation.core.examples import PreferencePair, SFTExample
from generation.core.prompting import Prompt, encode_text, format_prompt
from generation.core.tokenizer import ScriptTokenizer


class Encoded(NamedTuple):
    """One tokenized example: ``ids`` = prompt + completion + <|end|>; the last
    ``n_completion`` of them are the scored tokens."""

    ids: list[int]
    n_completion: int


def encode_example(
    tok: ScriptTokenizer, prompt: Prompt, completion: str, block_size: int
) -> Encoded | None:
    """Tokenize prompt + completion + <|end|>; return None if the completion cannot fit.

    The model reads ``ids[:-1]`` and predicts ``ids[1:]``, so a sequence may hold
    ``block_size + 1`` tokens. At least one prompt token must precede the completion
    (something has to predict its first token), so the completion + <|end|> may use at
    most ``block_size`` tokens. The prompt is cut from the left to make room.
    """
    comp = [*encode_text(tok, prompt, completion), tok.end_id]
    if len(comp) > block_size:
        return None
    prompt_ids = format_prompt(tok, prompt)
    keep = block_size + 1 - len(comp)  # >= 1
    return Encoded(prompt_ids[-keep:] + comp, len(comp))


def encode_sft(
    tok: ScriptTokenizer, examples: Iterable[SFTExample], block_size: int
) -> tuple[list[Encoded], int]:
    """Return ``(encoded examples, number skipped because the completion did not fit)``."""
    out, skipped = [], 0
    for ex in examples:
        e = encode_example(tok, ex.prompt, ex.completion, block_size)
        if e is None:
            skipped += 1
        else:
            out.append(e)
    return out, skipped


def encode_pairs(
    tok: ScriptTokenizer, pairs: Iterable[PreferencePair], block_size: int
) -> tuple[list[tuple[Encoded, Encoded]], int]:
    """Return ``([(chosen, rejected), ...], skipped)``; a pair is skipped if either side
    does not fit."""
    out, skipped = [], 0
    for p in pairs:
        c = encode_example(tok, p.prompt, p.chosen, block_size)
        r = encode_example(tok, p.prompt, p.rejected, block_size)
        if c is None or r is None:
            skipped += 1
        else:
            out.append((c, r))
    return out, skipped


def collate(
    seqs: Sequence[Encoded], pad_id: int, device="cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad sequences into ``(input_ids, completion_mask)``, both (B, L).

    ``completion_mask[b, t]`` is True where ``input_ids[b, t]`` is a completion token (or the
    closing <|end|>); padding and prompt positions are False. Right padding is safe with a
    causal model: real tokens never attend to the pads that come after them.
    """
    L = max(len(s.ids) for s in seqs)
    input_ids = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.bool)
    for b, (ids, n) in enumerate(seqs):
        input_ids[b, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        mask[b, len(ids) - n : len(ids)] = True
    return input_ids.to(device), mask.to(device)


def sequence_logps(
    model: torch.nn.Module, input_ids: torch.Tensor, completion_mask: torch.Tensor
) -> torch.Tensor:
    """Return (B,) ``sum log p(token | tokens before it)`` over the completion tokens only.

    ``input_ids`` (B, L) are whole sequences (prompt + completion + <|end|> + padding);
    ``completion_mask`` (B, L) marks the scored tokens (see ``collate``). The model sees
    ``input_ids[:, :-1]``; its logits at position t are scored against ``input_ids[:, t+1]``.
    """
    x, targets = input_ids[:, :-1], input_ids[:, 1:]  # (B, L-1) each
    mask = completion_mask[:, 1:]  # (B, L-1): is the *predicted* token a completion token?
    logits = model(x)  # (B, L-1, V)
    B, T, V = logits.shape
    # cross_entropy = -log softmax(logits)[target], without materialising log_softmax (B,T,V).
    token_logps = -F.cross_entropy(
        logits.float().reshape(B * T, V), targets.reshape(B * T), reduction="none"
    ).view(B, T)  # (B, T)
    # where(), not multiply: a -inf log-prob at a masked position must not turn into NaN.
    return torch.where(mask, token_logps, torch.zeros_like(token_logps)).sum(-1)  # (B,)
