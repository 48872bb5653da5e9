from django import template
from django.utils.safestring import mark_safe

from scripts_app.formats.html import render_html

register = template.Library()


@register.filter
def screenplay(text: str) -> str:
    """Render Fountain text as a screenplay preview; every piece of the text is escaped."""
    # render_html escapes all text before adding its own markup, so its output is safe.
    return mark_safe(render_html(text or ""))  # noqa: S308
