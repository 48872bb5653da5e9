"""The examples of fine-tuning on feedback, as plain data (no PyTorch needed to use them).

``SFTExample`` and ``PreferencePair`` tie a completion to a *prompt*: the request fields
that ``prompting.py`` turns into tokens. The web process builds and exports them
(``generation.datasets``) without importing the training code.
"""

from __future__ import annotations

from dataclasses import dataclass

PROMPT_KEYS = ("heading", "cast", "synopsis", "text_prefix")


@dataclass
class SFTExample:
    prompt: dict  # {"heading", "cast", "synopsis", "text_prefix"} (missing keys = empty)
    completion: str

    def to_dict(self) -> dict:
        """Return the TRL prompt-completion record ``{"prompt", "completion"}``."""
        return {"prompt": dict(self.prompt), "completion": self.completion}

    @classmethod
    def from_dict(cls, d: dict) -> SFTExample:
        return cls(prompt=dict(d["prompt"]), completion=d["completion"])


@dataclass
class PreferencePair:
    prompt: dict
    chosen: str
    rejected: str

    def to_dict(self) -> dict:
        """Return the TRL preference record ``{"prompt", "chosen", "rejected"}``."""
        return {"prompt": dict(self.prompt), "chosen": self.chosen, "rejected": self.rejected}

    @classmethod
    def from_dict(cls, d: dict) -> PreferencePair:
        return cls(prompt=dict(d["prompt"]), chosen=d["chosen"], rejected=d["rejected"])


def prompt_kwargs(prompt: dict) -> dict:
    """Return the ``format_prompt`` keyword arguments of a prompt dict (other keys ignored)."""
    return {k: prompt[k] for k in PROMPT_KEYS if prompt.get(k) is not None}


def prompt_key(prompt: dict) -> tuple:
    """Return a hashable, normalised form of a prompt (cast as a tuple) for comparisons."""
    p = prompt_kwargs(prompt)
    return (
        p.get("heading", ""),
        tuple(p.get("cast", ())),
        p.get("synopsis", ""),
        p.get("text_prefix", ""),
    )
