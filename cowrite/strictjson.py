"""JSON from untrusted clients (the API's request bodies, the scene room's frames).

Python's ``json.loads`` accepts ``Infinity``, ``-Infinity`` and ``NaN`` (not JSON), reads
``1e400`` as infinity, and recurses once per nesting level (a deep enough document raises
``RecursionError``, which no caller expects). ``loads`` refuses all of these with a
``ValueError`` that says what was wrong, so callers answer 400 (or an error fragment).
"""

import json
import math
import re

MAX_DEPTH = 32  # far more than any request of ours needs

# A JSON string literal (possessive: linear, no backtracking); what is left outside
# strings holds the brackets that nest.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")


class InvalidJSON(ValueError):
    """The text is not JSON at all (as opposed to JSON we refuse)."""


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows; give a finite number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number.")
    return value


def depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in ``raw`` (stops counting past MAX_DEPTH)."""
    level = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b"", raw)):
        if bracket in (b"[", b"{"):
            level += 1
            if level > deepest:
                deepest = level
                if deepest > MAX_DEPTH:
                    break
        else:
            level -= 1
    return deepest


def loads(raw: str | bytes, max_depth: int = MAX_DEPTH):
    """Parse ``raw`` as strict JSON; raise ValueError (with a clear message) otherwise."""
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    if depth(data) > max_depth:
        raise ValueError(f"The JSON is nested too deeply (at most {max_depth} levels).")
    try:
        return json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:  # cannot happen after the depth check; belt and braces
        raise ValueError("The JSON is nested too deeply.") from None
    except UnicodeDecodeError:
        raise InvalidJSON("The body is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise InvalidJSON(f"The body is not valid JSON ({exc.msg}).") from None
