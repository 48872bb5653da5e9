"""Drafts: the passages the model writes for a scene, from request to acceptance.

- ``spec``: what a request may ask for (presets, lengths, sampling) and its validation;
- ``request``: the team's actions (request, cancel, retry, accept into the scene, undo);
- ``queue``: the generation worker's bookkeeping (claim, progress, heartbeat, finish, reap);
- ``render``: reads and renderings for the drafts panel (cards, headers, queue positions).

This package's public API is re-exported here, so callers write ``drafts.draft_request``.
"""

from .queue import (
    LIVE,
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
    "can_cancel",
    "card_passage",
    "draft_cancel",
    "draft_request",
    "draft_retry",
    "draft_spec_from",
    "group_html",
    "group_passages",
    "head_of",
    "passage_accept",
    "passage_claim",
    "passage_finish",
    "passage_heartbeat",
    "passage_progress",
    "passage_undo",
    "passages_reap",
    "recent_groups",
    "recent_story_groups",
    "with_queue_positions",
]
