"""Speaker attribution on the gold set (tests/fixtures/adaptation), next to the baseline.

Run: .venv/bin/python bench/bench_attribution.py

The gold set: chapters of two public-domain Project Gutenberg books (Pride and Prejudice,
#1342, long unattributed exchanges; Alice's Adventures in Wonderland, #11, "said X" nearly
everywhere), each quotation's speaker labelled by hand in gold.jsonl; aliases.json is the
alias map passed to find_cast as ``known``. A gold quote is found when a quote of the same
paragraph starts with its first words; a gold speaker of null (a group: "they cried") is
right only when the answer is None.

Then the names the book page would offer with no alias map confirmed (``find_cast`` on
the chapters alone), against people.json (hand-labelled: every person the chapters name,
and capitalised words of them that are not people): people found, and not-people found.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts_app.formats.adaptation import (  # noqa: E402
    attribute,
    find_cast,
    nearest_name_baseline,
    paragraphs_from_text,
)

FIXTURES = ROOT / "tests" / "fixtures" / "adaptation"


def _norm(s: str) -> str:
    return " ".join(s.replace("_", "").split())


def load():
    gold = [
        json.loads(ln)
        for ln in (FIXTURES / "gold.jsonl").read_text("utf-8").splitlines()
        if ln.strip()
    ]
    aliases = json.loads((FIXTURES / "aliases.json").read_text("utf-8"))
    books = {}
    for book in sorted({g["book"] for g in gold}):
        books[book] = paragraphs_from_text((FIXTURES / f"{book}.txt").read_text("utf-8"))
    return gold, aliases, books


def match(gold_rows, quotes):
    """gold row -> the quote it matches (or None)."""
    by_para: dict[int, list] = {}
    for q in quotes:
        by_para.setdefault(q.paragraph, []).append(q)
    out = []
    for g in gold_rows:
        want = _norm(g["quote_start"])
        hit = None
        for q in by_para.get(g["paragraph"], []):
            have = _norm(q.text)
            n = min(len(want), len(have))
            if n and have[:n] == want[:n]:
                hit = q
                break
        out.append(hit)
    return out


def score(gold_rows, hits):
    tot = {"all": [0, 0], "explicit": [0, 0], "implicit": [0, 0]}
    for g, q in zip(gold_rows, hits, strict=True):
        ok = q is not None and q.speaker == g["speaker"]
        for key in ("all", "explicit" if g["explicit"] else "implicit"):
            tot[key][0] += ok
            tot[key][1] += 1
    return tot


def evaluate():
    gold, aliases, books = load()
    results = {}
    for book, paras in books.items():
        rows = [g for g in gold if g["book"] == book]
        t0 = time.perf_counter()
        cast = find_cast(paras, known=aliases.get(book))
        ours = attribute(paras, cast)
        t1 = time.perf_counter()
        base = nearest_name_baseline(paras, cast)
        h_ours, h_base = match(rows, ours), match(rows, base)
        results[book] = {
            "ours": score(rows, h_ours),
            "base": score(rows, h_base),
            "found": sum(h is not None for h in h_ours),
            "gold": len(rows),
            "quotes": len(ours),
            "seconds": t1 - t0,
            "words": sum(len(p.split()) for p in paras),
            "misses": [
                (g, q)
                for g, q in zip(rows, h_ours, strict=True)
                if q is None or q.speaker != g["speaker"]
            ],
        }
    return results


def names_found() -> dict:
    """book -> (people found, people named, not-people found as names, attribution
    [right, gold quotes] with that cast)."""
    people = json.loads((FIXTURES / "people.json").read_text("utf-8"))
    gold, _, books = load()
    out = {}
    for book, paras in books.items():
        cast = find_cast(paras)
        found = set(cast.names)
        named = people[book]["people"]
        hits = sum(any(form in found for form in forms) for forms in named)
        wrong = sorted(found & set(people[book]["not_people"]))
        rows = [g for g in gold if g["book"] == book]
        right = score(rows, match(rows, attribute(paras, cast)))["all"]
        out[book] = (hits, len(named), wrong, right)
    return out


def _pct(a):
    return f"{100 * a[0] / a[1]:5.1f}% ({a[0]}/{a[1]})" if a[1] else "   n/a"


def main() -> None:
    results = evaluate()
    total = {"ours": {}, "base": {}}
    print(f"{'book':<8}{'subset':<10}{'attribute':>22}{'baseline':>22}")
    for book, r in results.items():
        for key in ("all", "explicit", "implicit"):
            print(f"{book:<8}{key:<10}{_pct(r['ours'][key]):>22}{_pct(r['base'][key]):>22}")
            for side in ("ours", "base"):
                acc = total[side].setdefault(key, [0, 0])
                acc[0] += r[side][key][0]
                acc[1] += r[side][key][1]
    for key in ("all", "explicit", "implicit"):
        print(f"{'TOTAL':<8}{key:<10}{_pct(total['ours'][key]):>22}{_pct(total['base'][key]):>22}")
    for book, r in results.items():
        print(
            f"{book}: quote recall {r['found']}/{r['gold']} gold quotes found "
            f"({r['quotes']} quotes in all); find_cast+attribute {r['seconds'] * 1000:.1f} ms "
            f"for {r['words']} words"
        )
    print("with no alias map (people.json):")
    both = [0, 0]
    for book, (hits, named, wrong, right) in names_found().items():
        print(
            f"  {book}: people found {hits}/{named}; not people taken for names "
            f"{len(wrong)}{': ' + ', '.join(wrong) if wrong else ''}; attribution {_pct(right)}"
        )
        both = [both[0] + right[0], both[1] + right[1]]
    print(f"  both: attribution {_pct(both)}")
    if "-v" in sys.argv:
        for book, r in results.items():
            for g, q in r["misses"]:
                got = "NOT FOUND" if q is None else f"{q.speaker} ({q.how})"
                print(
                    f"  {book} p{g['paragraph']} {'E' if g['explicit'] else 'I'} {g['quote_start'][:25]!r}: gold {g['speaker']}, got {got}"
                )


if __name__ == "__main__":
    main()
