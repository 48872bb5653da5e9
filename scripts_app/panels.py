"""Panels that other apps put on the writers' room's pages.

The writers' room (this app) never imports the model's app (``generation``). A page
that shows the model's work — the drafts panel beside a scene, the model card on a
project page — renders whatever is registered for its slot: ``generation`` registers its
renderers in ``GenerationConfig.ready()``. Each renderer gets the request and the page's
access-checked objects and returns HTML; a slot with nothing registered renders nothing.

Slots:
- ``scene_side``: ``render(request, membership=, scene=)`` beside the scene editor;
- ``project_side``: ``render(request, membership=, project=)`` on the project page;
- ``story_side``: ``render(request, membership=, project=, beat=None)`` on the story
  page, the board and a card's page (``beat``: that card);
- ``coverage_side``: ``render(request, membership=, project=, coverage=)`` on the coverage
  page (``coverage``: the ``coverage.ProjectCoverage`` shown), under its figures;
- ``book_side``: ``render(request, membership=, project=, source=, chapter=)`` in the book
  page's chapter view (``source``: the ``SourceText``; ``chapter``: the index shown).
"""

from collections.abc import Callable

from django.utils.safestring import SafeString, mark_safe

SLOTS = ("scene_side", "project_side", "story_side", "coverage_side", "book_side")
_registry: dict[str, list[tuple[str, Callable[..., str]]]] = {slot: [] for slot in SLOTS}


def register(slot: str, name: str, render: Callable[..., str]) -> None:
    """Add (or replace, by ``name``) a panel renderer in ``slot``; order is registration's."""
    if slot not in _registry:
        raise ValueError(f"unknown panel slot {slot!r}; slots are {', '.join(SLOTS)}")
    panels = _registry[slot]
    for i, (existing, _) in enumerate(panels):
        if existing == name:
            panels[i] = (name, render)
            return
    panels.append((name, render))


def render(slot: str, request, **objects) -> list[SafeString]:
    """Render every panel of ``slot`` for this request (HTML, in registration order)."""
    return [mark_safe(fn(request, **objects)) for _, fn in _registry[slot]]  # noqa: S308
