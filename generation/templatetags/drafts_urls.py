"""``{% passage_url "passage_rate" passage %}``: a draft card's URL, for either room.

A scene draft's URLs name its scene (``projects/<p>/scenes/<s>/drafts/<id>/…``); a story
proposal's have none (``projects/<p>/story/drafts/<id>/…``, the same views, named
``story_<name>``). Cards are one set of templates for both: they build every URL here.
``drafts_compare`` takes the passage's request (``group``) instead of its id; extra
arguments (a comment's id) come after.
"""

from django import template
from django.urls import reverse

register = template.Library()


@register.simple_tag
def passage_url(name: str, passage, *extra) -> str:
    last = passage.group if name == "drafts_compare" else passage.pk
    if passage.scene_id is None:
        return reverse(f"story_{name}", args=[passage.project_id, last, *extra])
    return reverse(name, args=[passage.project_id, passage.scene_id, last, *extra])


@register.filter
def role_words(role: str) -> str:
    """A character role key in words ("love_interest" → "love interest")."""
    return str(role or "").replace("_", " ")
