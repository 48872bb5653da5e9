"""A tiny model version built on the spot (random weights, a small trained tokenizer):
enough for the engine to stream real tokens in tests, in well under a second."""

from pathlib import Path

import torch

from generation.core.checkpoint import save_version
from generation.core.model import GPT, GPTConfig
from generation.core.tokenizer import ScriptTokenizer

TEXT = (
    "INT. STATION - NIGHT\n\nAlarms pulse amber. MARA studies a cracked display.\n\n"
    "MARA\nIt's holding.\n\nJONAH\n(without looking up)\nThen tell me what you want.\n"
    "Café — “quoted” ’tis 😀 naïve\n"
) * 20


def build_tiny_version(folder: Path, seed: int = 0) -> Path:
    """Write a tiny model version folder (same layout as a trained one) and return it."""
    if (folder / "model.safetensors").exists():
        return folder
    torch.manual_seed(seed)
    tok = ScriptTokenizer.train([TEXT], vocab_size=400)
    # Big enough that a 500-token draft takes a couple of seconds on a CPU (tests need
    # time to join, cancel or kill mid-stream), small enough to build in a blink.
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=512, n_layer=4, n_head=4, n_embd=256)
    return save_version(folder, GPT(cfg), tok, steps=0, metrics={"val_bpb": 9.9})


def register_tiny_version(model_dir: Path, name: str = "tiny-test-v1", status: str = "active"):
    """Build (once) and register a tiny version in the database; return the row."""
    from generation.models import ModelVersion

    build_tiny_version(model_dir / name)
    return ModelVersion.objects.create(name=name, preset="test", folder=name, status=status)


def two_house_versions(model_dir: Path):
    """An active tiny version and a candidate child of it (another seed): two house
    models to compare. Returns ``(active, candidate)``."""
    from generation.models import ModelVersion

    active = register_tiny_version(model_dir, "house-v1")
    build_tiny_version(model_dir / "house-v2", seed=1)
    candidate = ModelVersion.objects.create(
        name="house-v2", preset="test", folder="house-v2", status="candidate", parent=active
    )
    return active, candidate
