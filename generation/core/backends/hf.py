"""Backend for a Hugging Face causal LM stored in a local folder (``save_pretrained``).

``transformers`` is imported lazily, only when this backend is built, so the rest of the
core runs without it. Nothing is fetched from the Hub (``local_files_only=True``).
Requests are served one at a time (a lock), with the model's own KV cache; sampling,
stop strings and streaming reuse ``sampling.py``/``detok.py`` so settings behave the same
as with the local engine. The prompt is plain Fountain text (``prompting.prompt_text``):
a foreign model does not know our control tokens.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable

import torch

from generation.core.backends.base import Backend, BackendError, GenerationRequest, GenerationResult
from generation.core.detok import StopStringBuffer
from generation.core.prompting import prompt_text
from generation.core.sampling import sample


class HFBackend(Backend):
    name = "hf"

    def __init__(self, model_dir: str, device: str | None = None, dtype: str | None = None):
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

    @torch.inference_mode()
    def generate(
        self,
        request: GenerationRequest,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        """Generate text for ``request`` (see ``base.Backend``)."""
        p = request.params
        prompt = prompt_text(request.prompt)
        ids = self.tokenizer(prompt, return_tensors="pt").input_ids.to(self.device)
        if ids.shape[1] == 0:
            bos = self.tokenizer.bos_token_id or self.tokenizer.eos_token_id or 0
            ids = torch.tensor([[bos]], device=self.device)
        eos = self.tokenizer.eos_token_id
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
                if tok == eos or tok in p.stop_token_ids:
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
        )
