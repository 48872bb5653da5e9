import torch

from generation.core import sampling
from generation.core.params import SamplingParams
from generation.core.sampling import sample


def _draws(logits, params, seed, n=300):
    g = torch.Generator().manual_seed(seed)
    return [sample(logits, [params], [g])[0] for _ in range(n)]


def test_filters_keep_only_allowed_tokens():
    torch.manual_seed(0)
    logits = torch.randn(1, 500) * 3
    order = logits[0].argsort(descending=True).tolist()
    assert set(_draws(logits, SamplingParams(top_k=3), 1)) <= set(order[:3])
    probs = logits.softmax(-1)[0][order]
    nucleus = int((probs.cumsum(0) < 0.5).sum()) + 1
    assert set(_draws(logits, SamplingParams(temperature=1.0, top_p=0.5), 2)) <= set(
        order[:nucleus]
    )
    keep = {i for i in range(500) if logits.softmax(-1)[0, i] >= 0.2 * logits.softmax(-1)[0].max()}
    assert set(_draws(logits, SamplingParams(temperature=1.0, min_p=0.2), 3)) <= keep
    assert _draws(logits, SamplingParams(temperature=0), 4, n=3) == [order[0]] * 3


def test_candidate_shortcut_equals_full_sort(monkeypatch):
    torch.manual_seed(1)
    logits = torch.randn(6, 3000)  # flat: the nucleus of 0.9 needs > 256 candidates
    params = [
        SamplingParams(temperature=1.0, top_p=p, top_k=k, min_p=m, seed=i)
        for i, (p, k, m) in enumerate(
            [(0.9, 0, 0), (0.3, 0, 0), (1.0, 40, 0), (1.0, 0, 0.5), (0.95, 50, 0), (1.0, 0, 0)]
        )
    ]
    a = [sample(logits, params, [torch.Generator().manual_seed(s) for s in range(6)])]
    monkeypatch.setattr(sampling, "CANDIDATES", 3000)  # force every row through the exact path
    b = [sample(logits, params, [torch.Generator().manual_seed(s) for s in range(6)])]
    assert a == b


def test_repetition_penalty_discourages_seen():
    logits = torch.tensor([[2.0, 1.9, -1.0]])
    seen = torch.tensor([[True, False, False]])
    out = sample(
        logits, [SamplingParams(temperature=0, repetition_penalty=2.0)], [torch.Generator()], seen
    )
    assert out == [1]
