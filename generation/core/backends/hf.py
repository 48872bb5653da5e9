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
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable

import torch

from generation.core.backends.base import Backend, BackendError, GenerationRequest, GenerationResult
from generation.core.chat import chat_messages
from generation.core.detok import StopStringBuffer
from generation.core.prompting import prompt_text
from generation.core.sampling import sample


class HFBackend(Backend):
    name = "hf"

    def __init__(
        self,
        model_dir: str,
        device: str | None = None,
        dtype: str | None = None,
        chat: bool | None = None,
    ):
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:  # pragma: no cover - depends on the install
            raise BackendError("the hf backend needs `transformers` installed") from e
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
            kw = {"dtype": getattr(torch, dtype)} if dtype else {}
            self.model = AutoModelForCausalLM.from_pretrained(
                model_dir, local_files_only=True, **kw
            )
        except (OSError, ValueError) as e:
            raise BackendError(f"cannot load a Hugging Face model from {model_dir}: {e}") from e
        self.model.to(self.device).eval()
        self.model_name = str(model_dir)
        self._lock = threading.Lock()
        # transformers 5.x renamed the KV-cache argument/output from past_key_values to cache.
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.uses_chat: bool = has_template and chat is not False
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
        if self.uses_chat:
            messages = chat_messages(prompt)
            text = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
            bos = self.tokenizer.bos_token
            add_special = not (bos and text.startswith(bos))  # the template's BOS, not twice
            enc = self.tokenizer(text, return_tensors="pt", add_special_tokens=add_special)
            return enc.input_ids, {"messages": messages}
        text = prompt_text(prompt)
        return self.tokenizer(text, return_tensors="pt").input_ids, {"prompt": text}

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
