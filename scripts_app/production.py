"""Production revisions of a project: lock the script, issue coloured revisions, print them.

The rule (what is marked, where locked pages break, how scenes are numbered) is
``formats/production.py``; this module stores the issues (``ProductionIssue``), reads the
script as it stands (each scene's saved text: the autosave keeps it within seconds of the
live document) and answers the pages: the production page, the PDF with revision marks,
the editor's marks for one scene.

Only owners lock, issue and unlock; everyone in the project sees the state and prints.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import exports
from .formats import fountain, pdf
from .formats import production as rule
from .formats.pagination import LETTER, PageLayout, auto_contd
from .models import ProductionIssue, Project, Scene

# How an issue dates its pages ("Blue Rev. 12/03/26"), as US productions print it.
DATE_FORMAT = "%m/%d/%y"


def scene_texts(project: Project) -> list[rule.SceneText]:
    rows = (
        Scene.objects.filter(project=project)
        .order_by("position", "pk")
        .values_list("pk", "heading", "text")
    )
    return [rule.SceneText(pk, heading, text) for pk, heading, text in rows]


def snapshots(project: Project) -> list[rule.Snapshot]:
    rows = ProductionIssue.objects.filter(project=project).order_by("index")
    return [_snapshot(pk, issued_at) for pk, issued_at in rows.values_list("pk", "issued_at")]


@functools.lru_cache(maxsize=16)
def _snapshot(pk: int, issued_at) -> rule.Snapshot:
    """One issue's snapshot, read once per process: issues never change (``issued_at`` is
    in the key because SQLite may give a deleted row's id to a new one)."""
    data = ProductionIssue.objects.filter(pk=pk).values_list("data", flat=True).get()
    return rule.Snapshot.from_json(data)


def is_locked(project: Project) -> bool:
    return ProductionIssue.objects.filter(project=project).exists()


def current(project: Project) -> rule.Production:
    """The script as it stands against its last issue (nothing marked before the lock)."""
    return rule.build(scene_texts(project), snapshots(project))


def _today() -> str:
    return timezone.localdate().strftime(DATE_FORMAT)


def header(index: int, date: str) -> str:
    """What a revised page prints in its header: "Blue Rev. 12/03/26"."""
    return f"{rule.colour_name(index)} Rev. {date}"


@dataclass(frozen=True)
class State:
    """What the production page shows."""

    locked: bool
    issues: list[ProductionIssue]
    next_colour: str
    next_swatch: str
    changed: int  # elements marked for the next revision
    pages: int
    labels: list[str]  # the page labels the next issue would print
    added_pages: list[str]  # "12A"… (pages that are not locked pages)
    omitted: list[str]  # numbers of omitted scenes


def state(project: Project) -> State:
    issues = list(ProductionIssue.objects.filter(project=project).select_related("issued_by"))
    prod = current(project)
    pages = prod.lay_out().pages
    labels = [page.label for page in pages]
    locked_labels = {label for lock in prod.locks for label in lock.labels}
    return State(
        locked=bool(issues),
        issues=issues,
        next_colour=rule.colour_name(prod.open_index),
        next_swatch=rule.swatch(prod.open_index),
        changed=prod.changed,
        pages=len(pages),
        labels=labels,
        added_pages=[label for label in labels if issues and label not in locked_labels],
        omitted=[prod.numbers[str(sid)] for sid in prod.omitted if str(sid) in prod.numbers],
    )


def _issue(project: Project, user, *, first: bool) -> ProductionIssue:
    with transaction.atomic():
        # One issue at a time per project: two owners pressing at once make one issue.
        Project.objects.select_for_update().only("pk").get(pk=project.pk)
        issues = snapshots(project)
        if first and issues:
            raise ValidationError("The script is already locked for production.")
        if not first and not issues:
            raise ValidationError("Lock the script for production first.")
        if not Scene.objects.filter(project=project).exists():
            raise ValidationError("There is nothing to lock yet: the script has no scenes.")
        prod = rule.build(scene_texts(project), issues)
        if not first and prod.changed == 0:
            raise ValidationError(
                f"Nothing has changed since the {issues[-1].colour} revision: "
                "there are no revised lines to issue."
            )
        snapshot = prod.issue(_today())
        return ProductionIssue.objects.create(
            project=project,
            index=snapshot.index,
            date=snapshot.date,
            data=snapshot.to_json(),
            pages=len(snapshot.pages),
            changed=prod.changed,
            issued_by=user,
        )


def production_lock(*, project: Project, user) -> ProductionIssue:
    """Lock pages and scene numbers: the script as it stands becomes the white draft."""
    return _issue(project, user, first=True)


def production_issue(*, project: Project, user) -> ProductionIssue:
    """Issue the next coloured revision: changes since the last issue get its colour,
    and its pages (A-pages included) and scene numbers become the locked ones."""
    return _issue(project, user, first=False)


def production_unlock(*, project: Project, confirm: str) -> int:
    """End production: forget every issue (pages and scene numbers move freely again)."""
    if confirm.strip().casefold() != "unlock":
        raise ValidationError('Type "unlock" to confirm: every revision colour and locked '
                              "page number will be forgotten.")  # fmt: skip
    deleted, _ = ProductionIssue.objects.filter(project=project).delete()
    return deleted


def render_pdf(project: Project, *, layout: PageLayout = LETTER) -> bytes:
    """The production draft as PDF: the title page, locked page numbers, scene numbers,
    OMITTED scenes, asterisks on revised lines and the revision in revised pages' headers."""
    issues = snapshots(project)
    prod = rule.build(scene_texts(project), issues)
    script = prod.script
    if project.auto_contd:
        script = auto_contd(script)
    script.title_page = fountain.parse(exports.front_matter(project)).title_page
    dates = {s.index: s.date for s in issues}
    revisions = {
        index: header(index, dates.get(index, _today())) for index in range(1, prod.open_index + 1)
    }
    return pdf.render_pdf(
        script, layout=layout, scene_numbers=True, locks=prod.locks, revisions=revisions
    )


def scene_marks(scene: Scene) -> dict | None:
    """What the editor needs to mark a scene's revised lines: the scene's lines as last
    issued with the colour that last changed each, and the colour of changes made now.
    None when the project is not locked."""
    row = (
        ProductionIssue.objects.filter(project_id=scene.project_id)
        .order_by("-index")
        .values_list("pk", "issued_at")
        .first()
    )
    if row is None:
        return None
    last = _snapshot(*row)
    lines = last.scene_lines(scene.pk)
    open_index = last.index + 1
    colours = {}
    for _, mark in lines:
        if mark is not None:
            colours[str(mark)] = {"name": rule.colour_name(mark), "swatch": rule.swatch(mark)}
    return {
        "lines": [[text, mark] for text, mark in lines],
        "open": {
            "index": open_index,
            "name": rule.colour_name(open_index),
            "swatch": rule.swatch(open_index),
        },  # fmt: skip
        "colours": colours,
        "number": last.numbers.get(str(scene.pk), ""),
    }
