"""Cue-aware decoding: a draft's character cues name the scene's cast, by construction.

A Fountain character cue is an all-caps line after a blank line (``MARA``, ``MARA
(V.O.)``). A small model asked for a scene with CLAIRE and JUNE writes cues for whoever
its training text was full of; prompting alone does not fix it. So, while a row of the
engine is at a line that could become a cue, the tokens it may sample are limited:

- a line with a lower-case letter, or that starts as another element (``!`` action,
  ``(`` parenthetical, ``[[`` note, ``>`` transition, ``~`` lyrics, ``=``, ``#``, ``.``
  heading, ``/*``) is not a cue: free; one with no letter yet may go on;
- a scene heading (``INT.``/``EXT.``/``EST.``/``I/E``, or ``.``) is free once the grammar
  sees one, and so is a line that goes on in lower case after a one-letter word
  (``A door opens.``, ``I``…); the usual transitions (``CUT TO:``, …) may be written whole;
- any other all-caps start must be the beginning of one of the allowed cues — a cast name,
  optionally with an extension (``(V.O.)``, ``(O.S.)``, ``(O.C.)``, ``(CONT'D)``) and a
  dual-dialogue ``^`` — or of those words; the line may end only when the cue is complete.

Where a checked line begins and the model wanted a cue the rule refuses (its
probability on all-caps starts outside the cast), that probability goes to the first
tokens of the cast's names (``starts``), most of it to those who have not spoken yet in
this draft: the model that wanted a character to speak gets one of the scene's, instead
of drifting into something else, and the whole cast gets its turn. If
that was most of its probability (``wants_cue``), the line it starts is held to finishing
the name (no turn into lower case half-way).

Only lines after a blank line are checked (dialogue lines and the rest are never cues).
The vocabulary is classified once per engine (``CueVocab``); a line's mask is then a few
dictionary lookups over the cast's names, cached per cast and line prefix, so most steps
of a row cost a lookup. It is per row, so rows of a batch do not depend on each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from scripts_app.formats import grammar

EXTENSIONS = ("", " (V.O.)", " (O.S.)", " (O.C.)", " (CONT'D)", " (CONT’D)")
# Line starts that make a line something else than a cue (and free it).
# All-caps lines that are not cues: scene headings (free once the grammar sees one) and
# the usual transitions (whole lines).
HEADING_STARTS = ("INT. ", "EXT. ", "EST. ", "INT./EXT. ", "INT/EXT ", "I/E ", "INT ", "EXT ")
TRANSITIONS = (
    "FADE IN:",
    "FADE OUT.",
    "FADE TO BLACK.",
    "FADE TO:",
    "CUT TO:",
    "SMASH CUT TO:",
    "MATCH CUT TO:",
    "JUMP CUT TO:",
    "DISSOLVE TO:",
    "BACK TO:",
    "INTERCUT:",
)
# All-caps starts that may still turn into an action line (``A door…``, ``I…``).
ONE_LETTER_WORDS = ("A", "I", "A ", "I ")
# How other elements start (Fountain's forcing marks): never a cue.
OTHER_ELEMENT = ("!", "(", "[[", ">", "~", "=", "#", ".", "/*")


def allowed_cues(names: Iterable[str]) -> list[str]:
    """Every complete cue line a draft may write for this cast (upper-cased)."""
    out = []
    for name in names:
        name = " ".join(name.split()).upper()
        if name:
            for ext in EXTENSIONS:
                out.extend((name + ext, name + ext + " ^"))
    return out


def _cue_like(text: str) -> bool:
    """All caps so far (letters upper-case, nothing lower-case): it could still be a cue."""
    return not any(c.islower() for c in text)


def line_verdict(line: str) -> str:
    """``free`` (not a cue), ``letterless`` (no letter yet) or ``cue?`` for a line so far."""
    s = line.lstrip(" ")
    if not s:
        return "cue?"
    if not _cue_like(s) or s.startswith(OTHER_ELEMENT):  # action, another element
        return "free"
    if grammar.ANY_SCENE_HEADING_RE.match(s):
        return "free"
    if not s.startswith("@") and not any(c.isalpha() for c in s):  # "@" forces a cue
        return "letterless"  # "...", "1": not a cue (yet); a capital must not follow
    return "cue?"


class CueVocab:
    """The vocabulary, classified once per engine for the cue rule."""

    def __init__(self, token_strs: Sequence[str | None], device: str | torch.device = "cpu"):
        self.device = torch.device(device)  # where the masks live (the logits' device)
        self.strs = list(token_strs)
        self.size = len(self.strs)
        self.by_str: dict[str, int] = {}
        for i, s in enumerate(self.strs):
            if s:
                self.by_str.setdefault(s, i)
        self.newline_ids = [i for i, s in enumerate(self.strs) if s and "\n" in s]
        heads = [s.partition("\n")[0] if s else None for s in self.strs]
        # Tokens that make a line free (or keep it letterless) on their own, at its start;
        # and those with a lower-case letter (free after any all-caps start).
        self.free_at_start = torch.tensor(
            [
                h is None or ("\n" not in s and line_verdict(h) != "cue?")
                for h, s in zip(heads, self.strs, strict=True)
            ],
            device=self.device,
        )
        self.lower = torch.tensor(
            [h is not None and not _cue_like(h) for h in heads], device=self.device
        )
        self._masks: dict[tuple, torch.Tensor] = {}  # (cues, line, committed) -> banned

    def ids_of_prefixes(self, rest: str) -> list[int]:
        """Tokens whose text is a non-empty prefix of ``rest``."""
        return [
            i
            for k in range(1, min(len(rest), 32) + 1)
            if (i := self.by_str.get(rest[:k])) is not None
        ]


class CueConstraint:
    """The cue rule for one engine row: ``banned()`` before each step, ``advance`` after.

    ``text_before`` is the text the draft continues (where its first line starts).
    ``name_tokens`` maps each (upper-case) name to the one token that writes it whole — a
    story-recipe model's character slot — instead of the longest token its spelling starts
    with."""

    def __init__(
        self,
        names: Sequence[str],
        vocab: CueVocab,
        text_before: str,
        name_tokens: dict[str, int] | None = None,
    ):
        self.vocab = vocab
        self.cues = allowed_cues(names)
        self.key = tuple(self.cues)
        starts = [*self.cues, *HEADING_STARTS, *TRANSITIONS, *ONE_LETTER_WORDS]
        self.starts_list = starts
        self.prefixes = {c[:i] for c in starts for i in range(len(c) + 1)}
        self.complete = {*self.cues, *TRANSITIONS}
        lines = text_before.split("\n")
        self.line = lines[-1]
        self.prev_blank = len(lines) < 2 or lines[-2].strip() == ""
        self._free = not self._checked(self.line)
        self.wants_cue = False  # set by the engine at a line start (see the module doc)
        self.committed = False  # this line is a cue being written: finish the name
        # Each name's first token (the longest token the name starts with).
        self.name_start = {
            name: ids[-1]
            for name in dict.fromkeys(c.split(" (")[0].removesuffix(" ^") for c in self.cues)
            if (ids := vocab.ids_of_prefixes(name))
        }
        if name_tokens is not None:
            self.name_start = {n.upper(): t for n, t in name_tokens.items()}
        self.spoken: set[str] = set()

    # --- state ------------------------------------------------------------------------
    def _checked(self, line: str) -> bool:
        """Whether the current line is (still) held to the cue rule."""
        return self.prev_blank and line_verdict(line) == "cue?"

    def advance(self, text: str) -> None:
        """Take the text a row just produced (one token's worth)."""
        at_start = self.line.strip() == ""
        for part_i, part in enumerate(text.split("\n")):
            if part_i > 0:  # a line ended
                cue = self.line.strip().removesuffix(" ^").split(" (")[0]
                if self.prev_blank and cue in self.name_start:
                    self.spoken.add(cue)
                self.prev_blank = self.line.strip() == ""
                self.line = ""
                self.committed = at_start = False
            self.line += part
        if (
            at_start
            and self.wants_cue
            and self.line.strip()
            and self.line.lstrip() in self.prefixes
        ):
            self.committed = self.prev_blank
        self.wants_cue = False
        self._free = not self._checked(self.line)

    # --- the mask -----------------------------------------------------------------------
    def banned(self) -> torch.Tensor | None:
        """A (V,) bool mask of the tokens the row may not sample now (None: line is free)."""
        if self._free:
            return None
        key = (self.key, self.line, self.committed)
        mask = self.vocab._masks.get(key)
        if mask is None:
            mask = self.vocab._masks[key] = ~self._allowed()
        return mask

    def starts(self) -> dict[int, float]:
        """Where the banned mass goes at the start of a line: the names' first tokens, as
        shares (sixteen times as much for a name that has not spoken yet)."""
        if self._free or self.line.strip():
            return {}
        weights: dict[int, float] = {}
        for name, token in self.name_start.items():
            weights[token] = weights.get(token, 0.0) + (1.0 if name in self.spoken else 16.0)
        total = sum(weights.values())
        return {token: w / total for token, w in weights.items()}

    def _allowed(self) -> torch.Tensor:
        v = self.vocab
        stripped = self.line.lstrip(" ")
        if not stripped:  # a line's start: what frees it, what begins a cue, a blank line
            allowed = v.free_at_start.clone()
            for p in self.prefixes:
                for text in (p, " " + p) if p else ():
                    if (i := v.by_str.get(text)) is not None:
                        allowed[i] = True
        elif any(h.startswith(stripped) or stripped.startswith(h) for h in HEADING_STARTS):
            # Perhaps a scene heading: every token decides for itself (rare; cached).
            return torch.tensor([s is None or self._ok(s) for s in v.strs], device=v.device)
        else:  # inside a cue (or a word that could still become action)
            allowed = torch.zeros(v.size, dtype=torch.bool, device=v.device)
            if not self.committed:
                allowed |= v.lower
            for start in self.starts_list:
                if start.startswith(stripped) and len(start) > len(stripped):
                    allowed[v.ids_of_prefixes(start[len(stripped) :])] = True
        for i in v.newline_ids:  # tokens that end the line here
            allowed[i] = self._ok(v.strs[i])
        return allowed

    def _ok(self, s: str) -> bool:
        """Whether appending token text ``s`` keeps the current (checked) line legal."""
        head, newline, _ = s.partition("\n")
        line = self.line + head
        verdict = line_verdict(line)
        if verdict in ("free", "letterless") and not self.committed:
            return True  # action, another element, no letter yet
        body = line.strip()
        if newline:  # the line ends here: blank, or a complete cue
            return body == "" or body in self.complete
        return line.lstrip(" ") in self.prefixes


def token_strings(token_bytes: Sequence[bytes]) -> list[str | None]:
    """The vocabulary as strings for ``CueVocab`` (None: not UTF-8 alone, or empty)."""
    out: list[str | None] = []
    for b in token_bytes:
        if not b:
            out.append(None)
            continue
        try:
            out.append(b.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(None)
    return out
