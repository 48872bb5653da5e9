"""Cowrite: a web app for writing films together with a language model."""

from .celery import app as celery_app

__all__ = ["celery_app"]
