"""Rated alternatives: sample several drafts per prompt, rate them, turn them into pairs.

The simulated-feedback loop (``experiment.py``) stands in for the team with a scripted
rater (``rater.py``): ``sample_rated_groups`` samples and rates ``n`` drafts per prompt,
and ``make_pairs_from_ratings`` turns each prompt's group into DPO preference pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from generation.core.engine import Engine
from generation.core.examples import PreferencePair
from generation.core.model import GPT
from generation.core.params import SamplingParams
from generation.core.prompting import Prompt, format_prompt
from generation.core.rater import rate
from generation.core.tokenizer import ScriptTokenizer


def make_pairs_from_ratings(
    groups: Iterable[Sequence[tuple[dict, str, float]]], min_margin: float
) -> list[PreferencePair]:
    """Turn rated alternatives into preference pairs: the best of a group vs each worse one.

    A group holds ``(prompt, completion, score)`` alternatives sampled for the SAME prompt
    (pairs across prompts would teach the model about prompts, not about completions:
    ``ValueError`` if a group mixes prompts). In each group the highest score is
    ``chosen`` (the first one on a tie); every other alternative whose score is lower by at
    least ``min_margin`` becomes a ``rejected`` (a completion identical to the chosen text
    is never paired with it). Groups with fewer than two alternatives give nothing.
    """
    pairs: list[PreferencePair] = []
    for group in groups:
        group = list(group)
        if len(group) < 2:
            continue
        key = group[0][0]
        if any(p != key for p, _, _ in group[1:]):
            raise ValueError("a rating group must hold alternatives for one prompt")
        # max() returns the first maximal element: ties go to the earliest alternative.
        best_prompt, best_text, best_score = max(group, key=lambda g: g[2])
        for _, text, score in group:
            if score < best_score and best_score - score >= min_margin and text != best_text:
                pairs.append(PreferencePair(best_prompt, best_text, text))
    return pairs


def sample_rated_groups(
    model: GPT,
    tok: ScriptTokenizer,
    prompts: Sequence[Prompt],
    *,
    n: int,
    params: SamplingParams,
    seed: int = 0,
    rate_fn: Callable[[str, dict], float] | None = None,
    max_batch: int = 32,
) -> list[list[tuple[dict, str, float]]]:
    """Sample ``n`` completions per prompt and rate them; return one group per prompt.

    The groups are the input of ``make_pairs_from_ratings``. Every sample gets its own
    seed (``seed``, ``seed + 1``, ...), so a call is repeatable. ``rate_fn(text, prompt)``
    defaults to the scripted rater against the prompt's cast (``rater.rate``). All samples
    run batched through one ``Engine`` (continuous batching); the model's train/eval mode
    is restored afterwards. Note: a sample cut off by ``max_new_tokens`` is rated as is,
    and ``encoding.encode_example`` will still close it with <|end|> when it is trained on.
    """
    if rate_fn is None:

        def rate_fn(text: str, prompt: Prompt) -> float:
            return rate(text, prompt.cast)

    was_training = model.training
    total = n * len(prompts)
    engine = Engine.from_tokenizer(model, tok, max_batch=max_batch, max_queue=max(total, 1))
    asks = [p for p in prompts for _ in range(n)]
    ids = [format_prompt(tok, p) for p in asks]
    sps = [replace(params, seed=seed + k) for k in range(total)]
    outs = engine.generate(ids, sps, asks)
    model.train(was_training)
    groups = []
    for i, p in enumerate(prompts):
        texts = [o.text for o in outs[i * n : (i + 1) * n]]
        groups.append([(p, t, float(rate_fn(t, p))) for t in texts])
    return groups
