"""Does a draft follow the story? Per-draft metrics and their aggregate.

Used by ``bench/bench_story.py`` (old model vs new, model alone vs as served). Every rule
reads the draft with the one Fountain grammar (``scripts_app/formats/grammar.py``), as the
editor and the importer read it, so a "cue" here is what the editor would show as one.

Per draft (``measure``):

- ``cues``: the character cue names, in order;
- ``cue_on_cast``: (cues naming a cast member, all cues);
- ``every_member_speaks``: every name of the cast has at least one cue (with a
  ``speakers`` instruction: every name it asks for);
- ``format_valid``: the draft is well-formed Fountain for a screenplay (``format_valid``);
- ``has_repetition``: a repeated line or a loop (``has_repetition``);
- the instruction's ``check`` (``instructions.py``) when the prompt carried one.

``summarize`` turns a list of such records into shares (module ``summarize``).
Standard library and the grammar only: ``generation.core`` stays importable without
Django.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from generation.core import instructions
from generation.core.instructions import KINDS, cue_names
from scripts_app.formats import grammar

__all__ = [
    "STAGE_DIRECTION_RE",
    "cue_on_cast",
    "cues",
    "every_member_speaks",
    "format_valid",
    "has_repetition",
    "measure",
    "summarize",
]

# A play's stage direction: a line (or a parenthetical, or a bracket) that begins with
# Enter, Exit, Exeunt, Re-enter or Manet as a whole word, in any case.
STAGE_DIRECTION_RE = re.compile(
    r"^\s*[(\[]?\s*(?:enter|exit|exeunt|re-?enter|manet)\b", re.IGNORECASE
)
_NORM_DROP = re.compile(r"[^\w\s]+")
_WORD = re.compile(r"\w+(?:['’]\w+)*")


def _cast_set(cast: Iterable[str]) -> set[str]:
    return {" ".join(str(c).split()).upper() for c in cast if str(c).strip()}


def _lines_kinds(text: str) -> tuple[list[str], list[str]]:
    lines = text.replace("\r\n", "\n").split("\n")
    return lines, grammar.classify_lines(lines, title_page=False)


def cues(text: str) -> list[str]:
    """Return the character cue names of ``text`` in order (upper case, extensions left out)."""
    return cue_names(text) if isinstance(text, str) else []


def cue_on_cast(text: str, cast: Iterable[str]) -> tuple[int, int]:
    """Return (cues naming a cast member, all cues) of ``text``."""
    names = cues(text)
    members = _cast_set(cast)
    return sum(n in members for n in names), len(names)


def every_member_speaks(text: str, cast: Iterable[str]) -> bool:
    """Return True if every cast member has at least one cue (an empty cast: True)."""
    return _cast_set(cast) <= set(cues(text))


def _cue_shaped(line: str) -> bool:
    s = grammar.visible_text(line).strip().rstrip("^").rstrip()
    name, _ = grammar.split_cue(s)
    return bool(name) and grammar.is_cue_name(name) and not grammar.is_transition(s)


def format_valid(text: str) -> bool:
    """Return True if ``text`` reads as a well-formed screenplay passage.

    All of:

    - it has at least one element (a non-blank line);
    - every character cue is followed by dialogue (lyrics count), optionally after one
      parenthetical: a cue whose speech is only a parenthetical fails;
    - no orphaned cue: a line shaped like a cue (``CLAIRE``, ``JUNE (V.O.)``) standing
      alone between blank lines, which Fountain reads as action because its speech got
      separated from it (the draft's last non-blank line is spared: drafts stop at a
      token limit, mid-scene; an all-capitals action line such as ``SILENCE.`` alone
      between blank lines reads the same way and fails too: write ``!SILENCE.``);
    - no play-style stage directions: no line, parenthetical or bracket beginning
      ``Enter``, ``Exit``, ``Exeunt``, ``Re-enter`` or ``Manet`` (whole word, any case;
      ``STAGE_DIRECTION_RE``).
    """
    if not isinstance(text, str) or not text.strip():
        return False
    lines, kinds = _lines_kinds(text)
    last = max(i for i, line in enumerate(lines) if line.strip())
    for i, (line, kind) in enumerate(zip(lines, kinds, strict=True)):
        if not line.strip():
            continue
        if STAGE_DIRECTION_RE.match(line):
            return False
        if kind == grammar.CHARACTER:
            j = i + 1
            if j < len(kinds) and kinds[j] == grammar.PARENTHETICAL:
                j += 1
            if j >= len(kinds) or kinds[j] not in (grammar.DIALOGUE, grammar.LYRICS):
                return False
        elif (
            kind == grammar.ACTION
            and i != last
            and (i == 0 or not lines[i - 1].strip())
            and (i + 1 >= len(lines) or not lines[i + 1].strip())
            and not grammar.FORCED_ACTION_RE.match(line)
            and _cue_shaped(line)
        ):
            return False
    return True


def _norm(line: str) -> str:
    return " ".join(_NORM_DROP.sub(" ", line.lower()).split())


def has_repetition(text: str) -> bool:
    """Return True if ``text`` repeats itself: a repeated line or a loop.

    - Repeated line: the same non-blank line of at least 3 words appears twice or more,
      compared in lower case with punctuation removed and spaces collapsed. Character
      cues and transitions do not count (a speaker's name recurs by design).
    - Loop: any 4 consecutive words (lower case, punctuation dropped, across line ends,
      cues included) occur 3 times or more in the text.
    """
    if not isinstance(text, str) or not text.strip():
        return False
    lines, kinds = _lines_kinds(text)
    seen: set[str] = set()
    for line, kind in zip(lines, kinds, strict=True):
        if kind in (grammar.CHARACTER, grammar.TRANSITION, grammar.BLANK):
            continue
        norm = _norm(line)
        if len(norm.split()) < 3:
            continue
        if norm in seen:
            return True
        seen.add(norm)
    words = [w.lower() for w in _WORD.findall(text)]
    grams = Counter(tuple(words[i : i + 4]) for i in range(len(words) - 3))
    return any(c >= 3 for c in grams.values())


def measure(text: str, cast: Sequence[str] = (), instruction=None) -> dict:
    """Return the per-draft metrics of ``text`` for a prompt with ``cast`` and an optional
    ``instruction`` (a ``(kind, value)`` pair): a JSON-ready dict."""
    text = text if isinstance(text, str) else ""
    on, total = cue_on_cast(text, cast)
    out = {
        "cues": cues(text),
        "cue_on_cast": on,
        "cue_total": total,
        # Who was asked to speak: the instruction's speakers when it names them (a cast
        # member it leaves out is meant to be silent), else the cast.
        "every_member_speaks": every_member_speaks(
            text, instruction[1] if instruction and instruction[0] == "speakers" else cast
        ),
        "format_valid": format_valid(text),
        "has_repetition": has_repetition(text),
        "instruction_ok": None,
    }
    if instruction:
        kind, value = instruction
        out["instruction_ok"] = instructions.check(kind, value, text)
    return out


def _share(hits: int, n: int) -> float | None:
    return hits / n if n else None


def summarize(records: Iterable[Mapping]) -> dict:
    """Aggregate per-draft records into shares.

    A record is a mapping with ``text``, ``cast`` and optionally ``instruction``
    (``[kind, value]`` or None); the keys of ``measure`` are used when present, computed
    otherwise. Returns:

    - ``drafts``; ``cues`` (all cues written);
    - ``cue_on_cast``: cues naming a cast member / all cues (None without cues);
    - ``every_member_speaks``, ``with_cue``, ``format_valid``, ``repetition``: shares of
      drafts;
    - ``instructed``: drafts whose prompt carried an instruction; ``instruction``: the
      share of those that followed it; ``instruction_<kind>`` and ``instructed_<kind>``
      the same per kind (None where no prompt had that kind).
    """
    n = cues_all = on_cast = speaks = with_cue = valid = rep = 0
    by_kind: dict[str, list[int]] = {k: [0, 0] for k in KINDS}
    for r in records:
        m = (
            r
            if "cue_total" in r
            else {**r, **measure(r["text"], r.get("cast", ()), r.get("instruction"))}
        )
        n += 1
        cues_all += m["cue_total"]
        on_cast += m["cue_on_cast"]
        speaks += bool(m["every_member_speaks"])
        with_cue += m["cue_total"] > 0
        valid += bool(m["format_valid"])
        rep += bool(m["has_repetition"])
        instr = r.get("instruction")
        if instr and m.get("instruction_ok") is not None:
            counts = by_kind.setdefault(instr[0], [0, 0])
            counts[0] += bool(m["instruction_ok"])
            counts[1] += 1
    followed = sum(c[0] for c in by_kind.values())
    instructed = sum(c[1] for c in by_kind.values())
    out = {
        "drafts": n,
        "cues": cues_all,
        "cue_on_cast": _share(on_cast, cues_all),
        "every_member_speaks": _share(speaks, n),
        "with_cue": _share(with_cue, n),
        "format_valid": _share(valid, n),
        "repetition": _share(rep, n),
        "instructed": instructed,
        "instruction": _share(followed, instructed),
    }
    for kind, (ok, total) in by_kind.items():
        out[f"instruction_{kind}"] = _share(ok, total)
        out[f"instructed_{kind}"] = total
    return out
