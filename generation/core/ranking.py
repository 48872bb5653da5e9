"""Blind comparison statistics: a win rate with its 95 % interval, and a Bradley–Terry
ranking of every model compared so far. Pure Python (no Django, no torch).

**Win rate.** A judge sees two drafts for the same brief and picks one, or says both are
bad. Of ``n`` judgements of model B against model A, B's win rate is
``(wins + ties / 2) / n`` — "both bad" counts as a tie (half a win each), as in public
chat-model arenas, so a pile of "both bad" votes pulls the rate towards 50 %, never past
it. The 95 % interval is Wilson's score interval for a proportion (it stays inside [0, 1]
and behaves with few votes, unlike ``p ± 1.96·sqrt(p(1-p)/n)``).

**Bradley–Terry.** Each model ``i`` has a strength ``s_i`` with
``P(i beats j) = s_i / (s_i + s_j)``; the strengths that make the judged results most
likely are found by Hunter's MM iteration (2004), ties again as half a win each. A weak
prior — every model gets one virtual tie against a virtual average model — keeps the fit
finite when a model won or lost everything and pulls models with few votes towards the
middle. Strengths are shown on an Elo-like scale: ``1000 + 400·log10(s_i)`` with the
geometric mean of strengths at 1000.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class WinRate:
    wins: int
    losses: int
    ties: int
    rate: float | None  # None with no judgements
    low: float | None
    high: float | None

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    def verdict(self, name: str, other: str) -> str:
        """In words, for the model page."""
        if self.rate is None:
            return "No judgements yet."
        if self.low is not None and self.low > 0.5:
            return f"The team prefers {name}."
        if self.high is not None and self.high < 0.5:
            return f"The team prefers {other}."
        return "Not clear yet: the interval still spans 50 %."


def wilson(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``successes / n`` (n > 0)."""
    if n <= 0:
        raise ValueError("wilson() needs n > 0")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def win_rate(wins: int, losses: int, ties: int = 0) -> WinRate:
    """The win rate of one side with ties as half a win, and its 95 % interval."""
    if min(wins, losses, ties) < 0:
        raise ValueError("counts cannot be negative")
    n = wins + losses + ties
    if n == 0:
        return WinRate(wins, losses, ties, None, None, None)
    score = wins + ties / 2
    low, high = wilson(score, n)
    return WinRate(wins, losses, ties, score / n, low, high)


@dataclass(frozen=True)
class Ranked:
    key: str
    strength: float
    rating: float  # Elo-like: 1000 + 400·log10(strength / geometric mean)
    wins: float  # ties counted as half
    games: int


def bradley_terry(
    results: list[tuple[str, str, float]],
    *,
    prior: float = 1.0,
    iterations: int = 1000,
    tolerance: float = 1e-10,
) -> list[Ranked]:
    """Fit strengths from ``(a, b, score_a)`` results (score 1: a won, 0: b won, 0.5: a
    tie) and return the models best first. ``prior``: virtual ties of each model against
    a virtual model of strength 1 (0 for the plain maximum-likelihood fit, which is
    infinite for a model that never lost)."""
    wins: dict[str, float] = defaultdict(float)
    games: dict[str, int] = defaultdict(int)
    pair_games: dict[tuple[str, str], int] = defaultdict(int)
    for a, b, score in results:
        if a == b:
            raise ValueError("a model cannot be compared with itself")
        if not 0.0 <= score <= 1.0:
            raise ValueError("a score is between 0 and 1")
        wins[a] += score
        wins[b] += 1.0 - score
        games[a] += 1
        games[b] += 1
        pair_games[(a, b) if a < b else (b, a)] += 1
    keys = sorted(games)
    if not keys:
        return []
    strength = {k: 1.0 for k in keys}
    opponents: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (a, b), n in pair_games.items():
        opponents[a].append((b, n))
        opponents[b].append((a, n))
    for _ in range(iterations):
        new = {}
        for k in keys:
            # MM update: W_k / sum_j n_kj / (s_k + s_j), the prior as games vs strength 1.
            denom = sum(n / (strength[k] + strength[j]) for j, n in opponents[k])
            denom += 2 * prior / (strength[k] + 1.0)
            new[k] = (wins[k] + prior) / denom
        # Fix the scale: geometric mean 1.
        g = math.exp(sum(math.log(v) for v in new.values()) / len(new))
        new = {k: v / g for k, v in new.items()}
        delta = max(abs(math.log(new[k] / strength[k])) for k in keys)
        strength = new
        if delta < tolerance:
            break
    ranked = [
        Ranked(k, strength[k], 1000 + 400 * math.log10(strength[k]), wins[k], games[k])
        for k in keys
    ]
    return sorted(ranked, key=lambda r: (-r.strength, r.key))
