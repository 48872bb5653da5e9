"""Backend for a Hugging Face causal LM stored in a local folder (``save_pretrained``).

``transformers`` is imported lazily, only when this backend is built, so the rest of the
core runs without it. Nothing is fetched from the Hub (``local_files_only=True``).
Requests are served one at a time (a lock), with the model's own KV cache; sampling,
stop strings and streaming reuse ``sampling.py``/``detok.py`` so settings behave the same
as with the local engine. A foreign model does not know our control tokens, so it is
asked in one of two ways:

* chat: when the folder's tokenizer has a chat template (an instruction-tuned model) and
  the ``chat`` option is not False (default None: auto), ``chat.chat_messages(prompt)``
  (a system message with the task, a user message with the labelled context) is rendered
  with ``tokenizer.apply_chat_template(..., add_generation_prompt=True)``; the rendered
  text is tokenized without adding a second BOS when the template already has one.
* plain: otherwise, the plain Fountain text (``prompting.prompt_text``).

``uses_chat`` says which; ``GenerationResult.sent`` is ``{"messages": [...]}`` or
``{"prompt": "..."}``, exactly as given to the model. Generation stops at the tokenizer's
eos token and at every eos id of the model's generation config (a chat model's
end-of-turn token), besides ``stop_token_ids`` and stop strings.

The rendering is one function, ``render_prompt(tokenizer, prompt, chat=None)`` (and
``prompt_ids``, its token ids without a doubled BOS): LoRA retraining (``lora.py``)
tokenizes its examples with it, so a retrained model is trained on exactly the prompt it
is served.

A LoRA version (``lora.lora_round``'s output: ``adapter_config.json`` +
``adapter_model.safetensors``) is a base model plus an adapter. Given such a folder, the
backend loads the base named in the adapter config (``base_model_name_or_path``, an
absolute local folder; when that folder is not on this machine, the ``base_dir`` option),
applies the adapter with ``peft`` (imported only then; a missing ``peft`` is a
``BackendError``) and merges it into the weights (``merge_and_unload``), so it generates
as fast as the bare base. The tokenizer is the base's.
"""

from __future__ import annotations

import inspect
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from generation.core.backends.base import Backend, BackendError, GenerationRequest, GenerationResult
from generation.core.chat import chat_messages
from generation.core.detok import StopStringBuffer
from generation.core.prompting import Prompt, prompt_text
from generation.core.sampling import sample

ADAPTER_CONFIG = "adapter_config.json"


def uses_chat_template(tokenizer, chat: bool | None = None) -> bool:
    """Whether ``tokenizer`` is asked in chat form: it has a chat template and ``chat`` is
    not False (None: auto)."""
    return bool(getattr(tokenizer, "chat_template", None)) and chat is not False


def render_prompt(tokenizer, prompt: Prompt, chat: bool | None = None) -> str:
    """The text a Hugging Face model is given for ``prompt``: ``chat_messages(prompt)``
    rendered with the tokenizer's chat template and the generation prompt when it has one
    (see ``uses_chat_template``), else the plain ``prompt_text(prompt)``."""
    if uses_chat_template(tokenizer, chat):
        return tokenizer.apply_chat_template(
            chat_messages(prompt), add_generation_prompt=True, tokenize=False
        )
    return prompt_text(prompt)


def prompt_ids(tokenizer, prompt: Prompt, chat: bool | None = None) -> list[int]:
    """Token ids of ``render_prompt``: the tokenizer's special tokens (BOS) are added,
    except to a chat rendering whose template already starts with the BOS (not twice)."""
    text = render_prompt(tokenizer, prompt, chat)
    add_special = True
    if uses_chat_template(tokenizer, chat):
        bos = tokenizer.bos_token
        add_special = not (bos and text.startswith(bos))
    return tokenizer(text, add_special_tokens=add_special).input_ids


def adapter_base_dir(adapter_dir, base_dir: str | None = None) -> str:
    """The local base folder of a LoRA version: its adapter config's
    ``base_model_name_or_path`` when that folder exists, else ``base_dir``."""
    try:
        cfg = json.loads((Path(adapter_dir) / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BackendError(f"cannot read the adapter config in {adapter_dir}: {e}") from e
    named = cfg.get("base_model_name_or_path") or ""
    if named and Path(named).is_dir():
        return named
    if base_dir and Path(base_dir).is_dir():
        return str(base_dir)
    raise BackendError(
        f"the LoRA version in {adapter_dir} needs its base model, {named or '(not named)'}, "
        "which is not a folder on this machine; give the base folder as base_dir"
    )


def _apply_adapter(base, adapter_dir: str):
    """``base`` with the LoRA adapter in ``adapter_dir`` merged into its weights."""
    try:
        from peft import PeftModel
    except ImportError as e:
        raise BackendError(
            f"{adapter_dir} is a LoRA version (base model + adapter); serving it needs "
            "`peft` installed (pip install peft)"
        ) from e
    try:
        model = PeftModel.from_pretrained(base, adapter_dir, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise BackendError(f"cannot apply the LoRA adapter in {adapter_dir}: {e}") from e
    return model.merge_and_unload()


class HFBackend(Backend):
    name = "hf"

    def __init__(
        self,
        model_dir: str,
        device: str | None = None,
        dtype: str | None = None,
        chat: bool | None = None,
        base_dir: str | None = None,
    ):
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:  # pragma: no cover - depends on the install
            raise BackendError("the hf backend needs `transformers` installed") from e
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        # A LoRA version: the base model + the adapter in model_dir.
        self.adapter_dir: str | None = None
        load_dir = str(model_dir)
        if (Path(model_dir) / ADAPTER_CONFIG).is_file():
            self.adapter_dir = str(model_dir)
            load_dir = adapter_base_dir(model_dir, base_dir)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(load_dir, local_files_only=True)
            kw = {"dtype": getattr(torch, dtype)} if dtype else {}
            self.model = AutoModelForCausalLM.from_pretrained(load_dir, local_files_only=True, **kw)
        except (OSError, ValueError) as e:
            raise BackendError(f"cannot load a Hugging Face model from {load_dir}: {e}") from e
        if self.adapter_dir is not None:
            self.model = _apply_adapter(self.model, self.adapter_dir)
        self.model.to(self.device).eval()
        self.model_name = str(model_dir)
        self._lock = threading.Lock()
        # transformers 5.x renamed the KV-cache argument/output from past_key_values to cache.
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self.uses_chat: bool = uses_chat_template(self.tokenizer, chat)
        self.eos_ids = self._eos_ids()

    def _eos_ids(self) -> frozenset[int]:
        """Token ids that end a reply: the tokenizer's eos and the generation config's."""
        ids = {self.tokenizer.eos_token_id}
        for cfg in (getattr(self.model, "generation_config", None), self.model.config):
            eos = getattr(cfg, "eos_token_id", None)
            ids.update(eos if isinstance(eos, (list, tuple)) else [eos])
        return frozenset(i for i in ids if isinstance(i, int))

    def _encode(self, prompt) -> tuple[torch.Tensor, dict]:
        """The prompt's ids and what was sent: rendered chat messages, or the plain text."""
        chat = self.uses_chat
        ids = torch.tensor([prompt_ids(self.tokenizer, prompt, chat)], dtype=torch.long)
        if chat:
            return ids, {"messages": chat_messages(prompt)}
        return ids, {"prompt": prompt_text(prompt)}

    @torch.inference_mode()
    def generate(
        self,
        request: GenerationRequest,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        """Generate text for ``request`` (see ``base.Backend``)."""
        p = request.params
        ids, sent_prompt = self._encode(request.prompt)
        ids = ids.to(self.device)
        if ids.shape[1] == 0:
            bos = self.tokenizer.bos_token_id or self.tokenizer.eos_token_id or 0
            ids = torch.tensor([[bos]], device=self.device)
        gen = torch.Generator().manual_seed(p.seed if p.seed is not None else torch.seed())
        stopbuf = StopStringBuffer(p.stop)
        out_ids: list[int] = []
        sent = ""
        reason = "length"
        t0 = time.perf_counter()
        ttft = None
        with self._lock:
            past = None
            x = ids
            vocab = self.model.config.vocab_size
            seen = torch.zeros(1, vocab, dtype=torch.bool, device=self.device)
            for _ in range(p.max_new_tokens):
                if cancel is not None and cancel.is_set():
                    reason = "cancelled"
                    break
                o = self.model(input_ids=x, use_cache=True, **{self._cache_kw: past})
                past = o[self._cache_kw] if self._cache_kw in o else o.get("past_key_values")
                tok = sample(o.logits[:, -1, :vocab].float(), [p], [gen], seen)[0]
                ttft = ttft if ttft is not None else time.perf_counter() - t0
                if tok in self.eos_ids or tok in p.stop_token_ids:
                    reason = "stop"
                    break
                out_ids.append(tok)
                seen[0, tok] = True
                x = torch.tensor([[tok]], device=self.device)
                # Decode everything so far and send the new, complete part: a trailing
                # U+FFFD means the last token ended mid-character, so wait for more.
                full = self.tokenizer.decode(out_ids, skip_special_tokens=True)
                if full.endswith("\ufffd"):
                    continue
                delta = stopbuf.add(full[len(sent) :])
                sent = full
                if delta and on_text:
                    on_text(delta)
                if stopbuf.stopped:
                    reason = "stop"
                    break
            if not stopbuf.stopped and reason != "cancelled":
                full = self.tokenizer.decode(out_ids, skip_special_tokens=True)
                tail = stopbuf.add(full[len(sent) :])
                tail += stopbuf.finish()
                if tail and on_text:
                    on_text(tail)
        return GenerationResult(
            text=stopbuf.text if reason != "cancelled" else stopbuf.text[: stopbuf.sent],
            finish_reason=reason,
            prompt_tokens=int(ids.shape[1]),
            completion_tokens=len(out_ids),
            ttft_s=ttft,
            latency_s=time.perf_counter() - t0,
            model=self.model_name,
            sent=sent_prompt,
        )
