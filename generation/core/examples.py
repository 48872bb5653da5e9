"""The examples of fine-tuning on feedback, as plain data (no PyTorch needed to use them).

``SFTExample`` and ``PreferencePair`` tie a completion to a ``prompting.Prompt`` (the
one prompt shape; their JSON records carry ``Prompt.as_dict()``). The web process builds and exports them
(``generation.datasets``) without importing the training code. ``scene_windows`` cuts a
long scene into context-sized SFT examples. Their tokens: ``encoding.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from generation.core.prompting import Prompt


@dataclass
class SFTExample:
    prompt: Prompt
    completion: str

    def to_dict(self) -> dict:
        """Return the TRL prompt-completion record ``{"prompt", "completion"}``."""
        return {"prompt": self.prompt.as_dict(), "completion": self.completion}

    @classmethod
    def from_dict(cls, d: dict) -> SFTExample:
        return cls(prompt=Prompt.from_dict(d["prompt"]), completion=d["completion"])


@dataclass
class PreferencePair:
    prompt: Prompt
    chosen: str
    rejected: str

    def to_dict(self) -> dict:
        """Return the TRL preference record ``{"prompt", "chosen", "rejected"}``."""
        return {"prompt": self.prompt.as_dict(), "chosen": self.chosen, "rejected": self.rejected}

    @classmethod
    def from_dict(cls, d: dict) -> PreferencePair:
        return cls(prompt=Prompt.from_dict(d["prompt"]), chosen=d["chosen"], rejected=d["rejected"])


def scene_windows(prompt: Prompt, text: str, max_chars: int = 700) -> list[SFTExample]:
    """Cut a long scene into SFT examples that fit a small context.

    A whole scene is usually longer than a tiny model's block, and
    ``encoding.encode_example`` skips a completion that does not fit. So the text is cut at
    blank lines (Fountain element boundaries) into windows of at most ``max_chars`` (a
    single longer element is its own window). The first window is "write this scene"
    (``text_prefix`` empty); each later one is "continue" with the text before it as
    ``text_prefix`` (``encode_example`` keeps its most recent tokens). Examples in scene
    order.
    """
    blocks = [b.strip("\n") for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    windows: list[str] = []
    cur: list[str] = []
    for block in blocks:
        if cur and len("\n\n".join([*cur, block])) > max_chars:
            windows.append("\n\n".join(cur) + "\n")
            cur = []
        cur.append(block)
    if cur:
        windows.append("\n\n".join(cur) + "\n")
    out, before = [], ""
    for w in windows:
        out.append(SFTExample(replace(prompt, text_prefix=before), w))
        before = (before + ("\n" if before else "") + w)[-4 * max_chars :]
    return out
