"""A project's title page credits: the fields, their update service, and their Fountain keys.

The title page of an exported script is the project's title plus these fields (see
``exports.front_matter``); an imported file's title page fills them (``fill_from_import``).
Values are stored as they read on the page: line ends are LF, every line is stripped and
empty lines are dropped (an empty line would end a Fountain title page); one-line fields
are joined onto one line. Fountain emphasis (``*italic*``, ``**bold**``, ``_underline_``)
is kept and printed as such.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from .models import Project


@dataclass(frozen=True)
class Credit:
    field: str  # Project field
    key: str  # Fountain title page key written
    keys: tuple[str, ...]  # keys read as this credit (lower case)
    multiline: bool


# In the order a title page lists them (after the Title).
CREDITS = (
    Credit("credit", "Credit", ("credit",), False),
    Credit("authors", "Author", ("author", "authors"), True),
    Credit("based_on", "Source", ("source",), True),
    Credit("draft_date", "Draft date", ("draft date", "date"), False),
    Credit("contact", "Contact", ("contact",), True),
    Credit("copyright", "Copyright", ("copyright",), False),
    Credit("title_page_notes", "Notes", ("notes", "note"), True),
)
CREDIT_FIELDS = tuple(c.field for c in CREDITS)
BY_FIELD = {c.field: c for c in CREDITS}
# Fountain key (lower case) -> credit.
BY_KEY = {key: c for c in CREDITS for key in c.keys}


def max_length(field: str) -> int:
    return Project._meta.get_field(field).max_length


def clean(field: str, value: str | None) -> str:
    """Return ``value`` as stored in ``field`` (line rules above; not truncated)."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    lines = [line for line in lines if line]
    return "\n".join(lines) if BY_FIELD[field].multiline else " ".join(lines)


def from_title_page(field: str, value: str | None) -> str:
    """Return what a title page value becomes in ``field`` (cleaned, cut to its limit)."""
    return clean(field, value)[: max_length(field)].rstrip()


def author_key(value: str) -> str:
    """Return "Author" or "Authors" for an authors value."""
    return "Authors" if "\n" in value or " & " in value or " and " in value else "Author"


@transaction.atomic
def credits_update(*, project: Project, **fields) -> Project:
    """Set the project's title page credits; raise ``ValidationError`` (nothing saved)."""
    unknown = set(fields) - set(CREDIT_FIELDS)
    if unknown:
        raise ValueError(f"Unknown credit fields: {sorted(unknown)}")
    values = {name: clean(name, value) for name, value in fields.items()}
    # Checked here: a model TextField's max_length is not a validator.
    errors = {
        name: f"At most {max_length(name):,} characters, please (this is {len(value):,})."
        for name, value in values.items()
        if len(value) > max_length(name)
    }
    if errors:
        raise ValidationError(errors)
    for name, value in values.items():
        setattr(project, name, value)
    if fields:
        project.save(update_fields=[*fields, "updated_at"])
    return project


def fill_from_import(project: Project, imported, *, only_empty: bool) -> list[str]:
    """Fill the credits from an imported title page (an ``importer.ImportedScript``).

    A new project takes every credit from the file (an absent one is left empty, so the
    export gives the file's title page back); an existing project only fills the credits it
    has empty. A file without a title page changes nothing. Return the fields set.
    """
    if not (imported.title_page_text or "").strip():
        return []
    extra = {key.strip().lower(): value for key, value in (imported.extra or {}).items()}
    values = {
        "credit": imported.credit,
        "authors": imported.authors,
        "based_on": imported.source,
        "draft_date": imported.draft_date,
        "contact": imported.contact,
        "copyright": extra.get("copyright", ""),
        "title_page_notes": imported.notes,
    }
    changed = []
    for name, value in values.items():
        value = from_title_page(name, value)
        if only_empty and (getattr(project, name) or not value):
            continue
        if getattr(project, name) != value:
            setattr(project, name, value)
            changed.append(name)
    if changed:
        project.save(update_fields=[*changed, "updated_at"])
    return changed
