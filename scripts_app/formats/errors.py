"""The one exception every reader raises for input it cannot use."""


class FormatError(ValueError):
    """Raise for unusable input; ``str(exc)`` is a message fit to show the user."""
