"""Build a training corpus of screenplay scenes.

The normalized form is Fountain text, one document per scene::

    {"heading": "INT. ELSINORE - A ROOM IN THE CASTLE",
     "cast": ["HAMLET", "HORATIO"],
     "synopsis": "Hamlet, Act I, Scene 2.",
     "text": "HAMLET\\nA little more than kin...\\n",
     "source": "hamlet_gut.txt#I.2",
     "group": "hamlet_gut.txt",
     "doc_hash": "<sha256 of heading/cast/synopsis/text>"}

``group`` is what the train/validation split keys on: every scene of one play (or one
uploaded script) shares a group, so a whole play is held out for validation. A document
keeps its split when the corpus grows because the split depends only on
``sha256(seed:group)``, never on the order or number of documents.

``build_corpus`` writes ``train.jsonl``, ``val.jsonl`` and ``manifest.json`` into a
temporary folder next to ``out_dir`` and renames it into place only when everything is
written, so a failure never leaves a half-written corpus behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

# The one Fountain line grammar: stdlib only, the single app module generation.core may
# import (see the import-linter contract in pyproject.toml).
from scripts_app.formats import grammar

# A source file bigger than this is skipped (and reported): the largest single play is
# ~200 KB and a feature screenplay ~300 KB, so 20 MB means "not a script".
MAX_SOURCE_BYTES = 20 * 1024 * 1024

Document = dict
Reader = Callable[[str, str], list[dict]]


@dataclass
class Source:
    """A named blob of input: what a reader receives (``name`` picks the reader)."""

    name: str
    data: bytes
    # Split key shared by all documents from this source; defaults to ``name``.
    group: str | None = None
    meta: dict = field(default_factory=dict)


class SourceError(ValueError):
    """Raised for input that cannot be turned into documents (reported, then skipped)."""


def doc_hash(doc: dict) -> str:
    """Return the content hash of a document (heading, cast, synopsis and text only)."""
    key = json.dumps(
        [doc.get("heading", ""), list(doc.get("cast", [])), doc.get("synopsis", ""), doc["text"]],
        ensure_ascii=False,
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def make_document(
    *, heading: str, cast: Iterable[str], synopsis: str, text: str, source: str, group: str
) -> dict:
    """Return a normalized document dict with its ``doc_hash`` filled in."""
    doc = {
        "heading": heading.strip(),
        "cast": [c.strip() for c in cast if c.strip()],
        "synopsis": synopsis.strip(),
        "text": text.strip("\n") + "\n",
        "source": source,
        "group": group,
    }
    doc["doc_hash"] = doc_hash(doc)
    return doc


# --------------------------------------------------------------------------- readers


def read_fountain(text: str, name: str) -> list[dict]:
    """Split Fountain text into one document per scene.

    Lines are read with the app's Fountain grammar (``scripts_app.formats.grammar``, the
    rules the importer and the editor use). Content before the first scene heading is
    dropped when the text opens with a title page (``Key: value`` lines) and kept as a
    heading-less document otherwise. Synopsis lines (``= ...``) become the document's
    synopsis; character cues found become its cast (names in capitals).
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kinds = grammar.classify_lines(lines)
    scenes: list[tuple[str, list[tuple[str, str]]]] = []
    heading, body = "", []
    for line, kind in zip(lines, kinds, strict=True):
        if kind == grammar.SCENE_HEADING:
            scenes.append((heading, body))
            h = line.strip()
            heading, body = (h[1:] if h.startswith(".") else h), []
        else:
            body.append((line, kind))
    scenes.append((heading, body))

    docs = []
    for i, (heading, body) in enumerate(scenes):
        if i == 0 and body and body[0][1] == grammar.TITLE_PAGE:
            continue  # title page
        synopsis = [
            grammar.SYNOPSIS_RE.match(b)["text"].strip() for b, k in body if k == grammar.SYNOPSIS
        ]
        kept = [b for b, k in body if k != grammar.SYNOPSIS]
        cast: list[str] = []
        for b, k in body:
            cue = grammar.parse_cue(b) if k == grammar.CHARACTER else None
            name_ = cue.name.upper() if cue else ""
            if name_ and name_ not in cast:
                cast.append(name_)
        body_text = "\n".join(kept).strip("\n")
        if not body_text.strip() and not heading:
            continue
        docs.append(
            make_document(
                heading=heading,
                cast=cast,
                synopsis=" ".join(synopsis),
                text=body_text,
                source=f"{name}#{i}",
                group=name,
            )
        )
    return docs


def read_stage_play(text: str, name: str) -> list[dict]:
    """Convert a plain-text stage play (ACT/SCENE headings, ``Name.`` cues) to documents."""
    from generation.core.shakespeare import convert_play  # local: avoids an import cycle

    return convert_play(text, source=name)


DEFAULT_READERS: dict[str, Reader] = {
    ".fountain": read_fountain,
    ".spmd": read_fountain,
    ".txt": read_stage_play,
}


# --------------------------------------------------------------------------- decoding


def decode_source(data: bytes) -> str:
    """Decode a source file's bytes, raising SourceError for binary/undecodable/empty input."""
    if not data.strip():
        raise SourceError("empty")
    if len(data) > MAX_SOURCE_BYTES:
        raise SourceError(f"too large ({len(data)} bytes > {MAX_SOURCE_BYTES})")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise SourceError(f"undecodable UTF-16: {e}") from None
    if b"\x00" in data[:8192]:
        raise SourceError("binary (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        # We refuse to guess a legacy encoding: a wrong guess silently corrupts the text.
        raise SourceError(f"not UTF-8: {e.reason} at byte {e.start}") from None


def _iter_paths(p: Path) -> Iterable[Path]:
    if p.is_dir():
        yield from sorted(q for q in p.rglob("*") if q.is_file())
    else:
        yield p


def _split_of(group: str, seed: int, val_fraction: float) -> str:
    h = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    u = int.from_bytes(h[:8], "big") / 2**64
    return "val" if u < val_fraction else "train"


def build_corpus(
    sources: Iterable[str | os.PathLike | Source | dict],
    out_dir: str | os.PathLike,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    readers: dict[str, Reader] | None = None,
    val_groups: Iterable[str] | None = None,
) -> dict:
    """Read ``sources`` and write ``train.jsonl``, ``val.jsonl``, ``manifest.json`` atomically.

    ``sources`` may mix file or folder paths, ``Source`` blobs and ready document dicts
    (with at least ``text``; other fields default to empty). ``readers`` maps a lower-case
    suffix to ``reader(text, name) -> list[document]`` and extends/overrides the defaults.
    ``val_groups``, if given, forces those groups into validation (on top of the hashed
    split). Bad inputs are skipped and listed in ``manifest["skipped"]``. Return the
    manifest.
    """
    all_readers = {**DEFAULT_READERS, **(readers or {})}
    forced_val = set(val_groups or ())
    out_dir = Path(out_dir)
    docs: list[dict] = []
    manifest_sources: list[dict] = []
    skipped: list[dict] = []

    def take(src: Source) -> None:
        entry = {
            "name": src.name,
            "sha256": hashlib.sha256(src.data).hexdigest(),
            "bytes": len(src.data),
        }
        suffix = Path(src.name).suffix.lower()
        reader = all_readers.get(suffix)
        try:
            if reader is None:
                raise SourceError(f"no reader for suffix {suffix!r}")
            text = decode_source(src.data)
            got = reader(text, src.name)
            if not got:
                raise SourceError("no scenes found")
        except Exception as e:  # any reader failure is reported, never fatal
            skipped.append({**entry, "reason": f"{type(e).__name__}: {e}"})
            return
        for d in got:
            d = make_document(
                heading=d.get("heading", ""),
                cast=d.get("cast", []),
                synopsis=d.get("synopsis", ""),
                text=d["text"],
                source=d.get("source", src.name),
                group=src.group or d.get("group") or src.name,
            )
            docs.append(d)
        manifest_sources.append({**entry, "documents": len(got)})

    for s in sources:
        if isinstance(s, Source):
            take(s)
        elif isinstance(s, dict):
            if not str(s.get("text", "")).strip():
                skipped.append({"name": s.get("source", "<document>"), "reason": "empty document"})
                continue
            d = make_document(
                heading=s.get("heading", ""),
                cast=s.get("cast", []),
                synopsis=s.get("synopsis", ""),
                text=s["text"],
                source=s.get("source", "<document>"),
                group=s.get("group") or s.get("source") or doc_hash(s),
            )
            docs.append(d)
        else:
            for path in _iter_paths(Path(s)):
                try:
                    data = path.read_bytes()
                except OSError as e:
                    skipped.append({"name": str(path), "reason": f"unreadable: {e}"})
                    continue
                take(Source(name=str(path), data=data, group=path.name))

    # Deduplicate by content hash, keeping the first occurrence (stable order).
    seen: set[str] = set()
    unique = []
    for d in docs:
        if d["doc_hash"] not in seen:
            seen.add(d["doc_hash"])
            unique.append(d)

    splits: dict[str, list[dict]] = {"train": [], "val": []}
    for d in unique:
        split = "val" if d["group"] in forced_val else _split_of(d["group"], seed, val_fraction)
        splits[split].append(d)

    corpus_hash = hashlib.sha256(
        "".join(f"{k}:{d['doc_hash']}\n" for k in ("train", "val") for d in splits[k]).encode()
    ).hexdigest()
    manifest = {
        "format": "cowrite-corpus/1",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seed": seed,
        "val_fraction": val_fraction,
        "sources": manifest_sources,
        "skipped": skipped,
        "counts": {
            k: {"documents": len(v), "text_bytes": sum(len(d["text"].encode()) for d in v)}
            for k, v in splits.items()
        },
        "val_groups": sorted({d["group"] for d in splits["val"]}),
        "corpus_hash": corpus_hash,
    }

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; a corpus is shared read-only data
    try:
        for k, v in splits.items():
            with open(tmp / f"{k}.jsonl", "w", encoding="utf-8") as f:
                for d in v:
                    f.write(json.dumps(d, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        # Swap in: move the old corpus aside first so the final rename cannot fail on a
        # non-empty target; the old one is deleted only after the new one is in place.
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}-{time.time_ns()}")
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def load_documents(corpus_dir: str | os.PathLike, split: str) -> list[dict]:
    """Return the documents of one split (``"train"`` or ``"val"``) of a built corpus."""
    with open(Path(corpus_dir) / f"{split}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_manifest(corpus_dir: str | os.PathLike) -> dict:
    """Return a built corpus's manifest."""
    return json.loads((Path(corpus_dir) / "manifest.json").read_text(encoding="utf-8"))
