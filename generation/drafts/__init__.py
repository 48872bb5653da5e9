"""Drafts: the passages the model writes for a scene, from request to acceptance.

- ``spec``: what a request may ask for (presets, lengths, sampling) and its validation;
- ``admission``: who writes a project's drafts and the limits (rate, concurrency, queue);
- ``request``: the team's actions (request, cancel, retry, accept into the scene, undo);
- ``chapter``: a chapter's drafts (one request, a scene draft per scene made from a
  chapter of a book; queued as places come free);
- ``queue``: the generation worker's bookkeeping (claim, progress, heartbeat, finish, reap);
- ``render``: reads and renderings for the drafts panel (cards, headers, queue positions).

This package's public API is re-exported here, so callers write ``drafts.draft_request``.
"""

from .admission import LIVE, check_limits, writer_for
from .chapter import (
    batch_advance,
    batch_cancel,
    batches_advance,
    can_cancel_batch,
    chapter_drafts_request,
    chapter_scene_ids,
    latest_batch,
    progress,
)
from .queue import (
    passage_claim,
    passage_finish,
    passage_heartbeat,
    passage_progress,
    passages_reap,
)
from .render import (
    card_passage,
    group_html,
    group_passages,
    head_of,
    recent_groups,
    recent_story_groups,
    with_queue_positions,
)
from .request import (
    ACCEPT_MODES,
    can_cancel,
    draft_cancel,
    draft_request,
    draft_retry,
    passage_accept,
    passage_undo,
)
from .spec import LENGTHS, MODES, PRESETS, REWRITES, DraftSpec, draft_spec_from

__all__ = [
    "ACCEPT_MODES",
    "LENGTHS",
    "LIVE",
    "MODES",
    "PRESETS",
    "REWRITES",
    "DraftSpec",
    "batch_advance",
    "batch_cancel",
    "batches_advance",
    "can_cancel",
    "can_cancel_batch",
    "card_passage",
    "chapter_drafts_request",
    "chapter_scene_ids",
    "check_limits",
    "draft_cancel",
    "draft_request",
    "draft_retry",
    "draft_spec_from",
    "group_html",
    "group_passages",
    "head_of",
    "latest_batch",
    "passage_accept",
    "passage_claim",
    "passage_finish",
    "passage_heartbeat",
    "passage_progress",
    "passage_undo",
    "passages_reap",
    "progress",
    "recent_groups",
    "recent_story_groups",
    "with_queue_positions",
    "writer_for",
]
