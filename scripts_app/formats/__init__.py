"""Screenplay formats: Fountain, FDX, HTML, PDF, import splitting, pagination and reports.

Pure Python, no Django: the Django side calls these functions from its services.
"""

from .errors import FormatError
from .model import Element, ElementType, Script, TitleEntry

__all__ = ["Element", "ElementType", "FormatError", "Script", "TitleEntry"]
