"""Shared fixtures: tiny models built on the spot (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from generation.core.model import GPT, GPTConfig
from generation.core.tokenizer import ScriptTokenizer

FIXTURES = Path(__file__).parent / "fixtures"

SAMPLE_TEXTS = [
    (FIXTURES / "hamlet_excerpt.txt").read_text(),
    (FIXTURES / "tempest_excerpt.txt").read_text(),
    "Café — “quotes” ’tis 😀🎭 漢字かな e\u0301 naïve\n" * 5,
]


@pytest.fixture(autouse=True, scope="session")
def _threads():
    # Other work shares these 2 cores; one thread keeps timings stable.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tok() -> ScriptTokenizer:
    return ScriptTokenizer.train(SAMPLE_TEXTS, vocab_size=400)


@pytest.fixture(scope="session")
def tiny_model(tok) -> GPT:
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=96, n_layer=2, n_head=2, n_embd=32)
    return GPT(cfg).eval()
