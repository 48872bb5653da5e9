"""What the web side needs of the active model without loading its weights: its version,
tokenizer and context size (to build prompts within budget). Cached per version."""

import json
import threading

from .models import ModelVersion, VersionStatus

_lock = threading.Lock()
_cache: dict[int, tuple] = {}


def active_tokenizer():
    """Return ``(version, tokenizer, block_size)`` of the active version, or None."""
    from generation.core.tokenizer import ScriptTokenizer

    version = ModelVersion.objects.filter(status=VersionStatus.ACTIVE).first()
    if version is None:
        return None
    with _lock:
        hit = _cache.get(version.pk)
        if hit is None:
            tokenizer = ScriptTokenizer.load(version.path / "tokenizer.json")
            config = json.loads((version.path / "config.json").read_text())
            hit = _cache[version.pk] = (tokenizer, int(config["block_size"]))
    return version, hit[0], hit[1]
