"""Chat messages for instruction-tuned models (a chat template or ``/v1/chat/completions``).

A model trained to follow instructions writes better from a clear task and labelled
context than from a bare Fountain page, so ``chat_messages(prompt)`` turns a ``Prompt``
into two messages:

* ``system``: the task and the shape of the answer. For a scene: Fountain (cues in
  capitals on their own line, dialogue under them, action as plain paragraphs), the
  scene's text only — no heading, no commentary, no markdown fences — continuing exactly
  where the text stops, or (a rewrite, ``text_suffix`` set) only the missing passage,
  leading into the text after it. For a story level (``storylevels.LEVELS``): a role line
  and ``storylevels.task_instruction``.
* ``user``: the context as labelled sections (scene heading, cast, brief, the text so far,
  the text after the passage to write) and a one-line ask.

Pure and deterministic: the same prompt always gives the same messages, so what a passage
stores as sent is what the model read. ``chat_text_fallback`` is the plain prompt a
completion-only model gets instead (``prompting.prompt_text``).
"""

from __future__ import annotations

from generation.core.prompting import Prompt, prompt_text

SCENE_SYSTEM = (
    "You are a screenwriter's co-writer. You write screenplay scenes in Fountain format: "
    "a character's cue in capitals on its own line, their dialogue on the lines under it, "
    "parentheticals in brackets under the cue, and action as plain paragraphs, with a "
    "blank line between elements. Answer with the scene's text only: no scene heading "
    "unless you are asked for one, no title, no commentary or notes, no markdown and no "
    "code fences."
)
SCENE_NEW = "Write the scene from its beginning, following the brief."
SCENE_CONTINUE = (
    "Continue the scene exactly where the text stops: do not repeat any of the text "
    "so far, and follow the brief."
)
SCENE_REWRITE = (
    "A passage of the scene is missing. Write only the replacement for the missing "
    "passage: start right after the text so far, lead into the text after it, and do "
    "not repeat either."
)
STORY_SYSTEM = "You are a screenwriter's co-writer, helping develop a story."

ASK_NEW = "Write the scene."
ASK_CONTINUE = "Continue the scene from where the text stops."
ASK_REWRITE = "Write the missing passage."


def _section(label: str, body: str) -> str:
    return f"{label}:\n{body}"


def _cast(prompt: Prompt) -> str:
    return ", ".join(c.strip() for c in prompt.cast if c.strip())


def _story_messages(prompt: Prompt) -> list[dict]:
    from generation.core.storylevels import heading_act, task_instruction

    act = heading_act(prompt.heading)
    system = f"{STORY_SYSTEM} {task_instruction(prompt.kind, act)}"
    sections = []
    if prompt.synopsis.strip():
        sections.append(_section("Context", prompt.synopsis.strip()))
    cast = _cast(prompt)
    if cast:
        sections.append(_section("Cast", cast))
    sections.append(task_instruction(prompt.kind, act))  # the ask, last, as for a scene
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "\n\n".join(sections)},
    ]


def chat_messages(prompt: Prompt) -> list[dict]:
    """The ``[system, user]`` messages asking an instruction-tuned model for ``prompt``."""
    from generation.core.storylevels import LEVELS

    if prompt.kind in LEVELS:
        return _story_messages(prompt)
    if prompt.text_suffix:
        task, ask = SCENE_REWRITE, ASK_REWRITE
    elif prompt.text_prefix.strip():
        task, ask = SCENE_CONTINUE, ASK_CONTINUE
    else:
        task, ask = SCENE_NEW, ASK_NEW
    sections = []
    if prompt.heading.strip():
        sections.append(_section("Scene heading", prompt.heading.strip()))
    cast = _cast(prompt)
    if cast:
        sections.append(_section("Cast", cast))
    if prompt.synopsis.strip():
        sections.append(_section("Brief", prompt.synopsis.strip()))
    if prompt.text_prefix.strip():
        sections.append(_section("Text so far", prompt.text_prefix))
    if prompt.text_suffix:
        sections.append(_section("Text after the passage to write", prompt.text_suffix.strip()))
    sections.append(ask)
    return [
        {"role": "system", "content": f"{SCENE_SYSTEM} {task}"},
        {"role": "user", "content": "\n\n".join(sections)},
    ]


def chat_text_fallback(prompt: Prompt) -> str:
    """The plain prompt a completion-only model gets (``prompting.prompt_text``)."""
    return prompt_text(prompt)
