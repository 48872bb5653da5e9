"""How a page answers a refused action: one rule for plain and htmx requests (both apps)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render


def errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def form_errors(form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def fail(request, message: str, to: str, status: int = 422):
    """Report a rejected action: a message and a redirect, or a 4xx fragment for htmx.

    422, not 400: with DEBUG on, django-htmx's debug script replaces the whole page with
    the body of any 400/403/404/500 answer to an htmx request.
    """
    if request.htmx:
        return render(request, "partials/error.html", {"message": message}, status=status)
    messages.error(request, message)
    return redirect(to)
