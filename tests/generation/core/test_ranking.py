"""Blind comparison statistics (``generation/core/ranking.py``): Wilson's interval, the
win rate with "both bad" as a draw, the Bradley–Terry fit."""

import math

import pytest

from generation.core.ranking import bradley_terry, wilson, win_rate


def test_wilson_matches_the_textbook_values():
    # 8 of 10: Wilson's 95 % interval is 0.490–0.943 (Newcombe 1998, table I style).
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    # All or nothing stays inside [0, 1], unlike the normal approximation.
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0
    assert wilson(5, 5)[0] == pytest.approx(0.5655, abs=1e-4)
    with pytest.raises(ValueError):
        wilson(1, 0)


def test_win_rate_counts_both_bad_as_half_a_win():
    r = win_rate(5, 5, 10)
    assert r.rate == 0.5 and r.n == 20 and r.low < 0.5 < r.high
    assert win_rate(3, 0, 0).rate == 1.0
    empty = win_rate(0, 0, 0)
    assert empty.rate is None and empty.verdict("B", "A") == "No judgements yet."
    assert "prefers B" in win_rate(20, 2).verdict("B", "A")
    assert "prefers A" in win_rate(2, 20).verdict("B", "A")
    assert "Not clear yet" in win_rate(6, 4).verdict("B", "A")
    with pytest.raises(ValueError):
        win_rate(-1, 2)


def test_bradley_terry_of_two_models_is_the_odds_of_their_record():
    results = [("a", "b", 1.0)] * 6 + [("a", "b", 0.0)] * 2
    ranked = {r.key: r for r in bradley_terry(results, prior=0)}
    assert ranked["a"].strength / ranked["b"].strength == pytest.approx(3.0, rel=1e-6)
    # Elo-like scale: 400·log10(3) points apart, centred on 1000.
    assert ranked["a"].rating - ranked["b"].rating == pytest.approx(400 * math.log10(3), rel=1e-6)
    assert (ranked["a"].rating + ranked["b"].rating) / 2 == pytest.approx(1000)
    assert ranked["a"].games == 8 and ranked["a"].wins == 6


def test_bradley_terry_orders_three_models_and_stays_finite_on_a_clean_sweep():
    results = (
        [("strong", "middle", 1.0)] * 5
        + [("middle", "weak", 1.0)] * 5
        + [("strong", "weak", 1.0)] * 3
        + [("middle", "weak", 0.5)] * 2
    )
    ranked = bradley_terry(results)
    assert [r.key for r in ranked] == ["strong", "middle", "weak"]
    assert all(math.isfinite(r.strength) and r.strength > 0 for r in ranked)


def test_bradley_terry_refuses_nonsense():
    assert bradley_terry([]) == []
    with pytest.raises(ValueError):
        bradley_terry([("a", "a", 1.0)])
    with pytest.raises(ValueError):
        bradley_terry([("a", "b", 2.0)])
