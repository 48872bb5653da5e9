"""Continuous-batching generation engine (token ids in, text deltas out).

How a step works
----------------
Running requests occupy KV-cache slots 0..S-1 (``model.KVCache``: one preallocated
(layers, slots, heads, block_size, head_size) tensor; each request remembers its own
length). On every ``step()``:

1. Cancelled requests leave; waiting requests join while slots are free (up to
   ``max_batch``). A full waiting queue makes ``submit`` raise ``QueueFull``.
2. Every request that is already generating contributes its last token (1 token each).
   Requests still reading their prompt contribute a *chunk* of it: at most
   ``prefill_chunk`` tokens each and ``step_token_budget`` tokens for the whole step
   (minus the decode tokens). A long newcomer prompt is therefore spread over several
   steps instead of stalling every running stream while it is read (chunked prefill).
3. All these tokens go through the model as one flat batch (``GPT.forward_step``); the
   model returns next-token logits only for the rows that sample this step.
4. Each sampling row draws from its own ``torch.Generator`` (``sampling.py``), the token
   is detokenized incrementally (``detok.py``) and checked against end-of-text, stop
   strings and the length limit. Finished rows leave the batch; the last slot is moved
   into the hole so active slots stay contiguous.
5. Each request's ``callback`` (given to ``submit``) gets one ``RequestOutput`` per step
   in which the request produced text or finished.

Prompts longer than ``block_size - min(max_new_tokens, block_size // 2)`` are cut from
the left; a request also finishes with ``"length"`` when its sequence fills ``block_size``
(no sliding window).

Threading: ``submit``/``cancel`` are thread-safe; drive the engine either by calling
``step()`` yourself (a worker loop) or with ``run_forever(stop_event)`` in one thread.
"""

from __future__ import annotations

import collections
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import torch

from generation.core.cues import CueConstraint, CueVocab, token_strings
from generation.core.detok import IncrementalDecoder, SlotDecoder, StopStringBuffer
from generation.core.guide import GuideVocab, InstructionGuide
from generation.core.instructions import parse as parse_instructions
from generation.core.model import GPT, KVCache, StepPlan
from generation.core.params import SamplingParams
from generation.core.prompting import prompt_budget
from generation.core.recipe import CastSlots, slot_order
from generation.core.sampling import sample

log = logging.getLogger(__name__)


class QueueFull(RuntimeError):
    """Raised by ``Engine.submit`` when the waiting queue already holds ``max_queue`` requests."""


@dataclass
class RequestOutput:
    request_id: str
    text: str  # new text since the last output of this request
    token_ids: list[int]  # new token ids since the last output
    finished: bool = False
    finish_reason: str | None = None  # "stop" | "length" | "cancelled" | "error"
    # Filled on the final output:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float | None = None  # submit -> first token
    latency_s: float | None = None  # submit -> finished


@dataclass
class Completion:
    request_id: str
    text: str
    token_ids: list[int]
    finish_reason: str
    ttft_s: float | None
    latency_s: float


@dataclass
class _Request:
    id: str
    prompt: list[int]
    params: SamplingParams
    generator: torch.Generator
    stopbuf: StopStringBuffer
    submitted_at: float
    # Set on admission:
    decoder: IncrementalDecoder | None = None
    seen: torch.Tensor | None = None  # (V,) bool: tokens generated so far (repetition penalty)
    prefilled: int = 0  # prompt tokens already in the cache
    cache_len: int = 0  # tokens in this request's cache slot
    last_token: int = -1
    output_ids: list[int] = field(default_factory=list)
    first_token_at: float | None = None
    cancelled: bool = False
    cue: CueConstraint | None = None  # cue-aware decoding (``cues.py``), per row
    slot_ban: torch.Tensor | None = None  # (V,) bool: character slots with no name here
    guide: InstructionGuide | None = None  # instruction-aware decoding (``guide.py``)


class Engine:
    """Serve many generation requests at once on one model (see module docstring)."""

    def __init__(
        self,
        model: GPT,
        token_bytes: list[bytes],
        eos_id: int | None,
        *,
        max_batch: int = 32,
        max_queue: int = 256,
        prefill_chunk: int = 64,
        step_token_budget: int = 256,
        slot_ids: Sequence[int] = (),
    ):
        self.model = model.eval()
        self.cfg = model.cfg
        self.device = next(model.parameters()).device
        self.token_bytes = token_bytes
        self.eos_id = eos_id
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.prefill_chunk = prefill_chunk
        self.step_token_budget = step_token_budget
        # A story-recipe model's character slots (``recipe.py``): slot k is slot_ids[k-1].
        self.slot_ids = list(slot_ids)
        dtype = next(model.parameters()).dtype
        self.cache = KVCache(self.cfg, max_batch, dtype=dtype, device=self.device)
        self._waiting: collections.deque[_Request] = collections.deque()
        self._running: list[_Request] = []  # index == cache slot
        self._cancel: set[str] = set()
        self._callbacks: dict[str, Callable[[RequestOutput], None]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)

    @cached_property
    def guide_vocab(self) -> GuideVocab:
        """The vocabulary by first byte, for instruction-aware decoding (first use)."""
        return GuideVocab(self.token_bytes)

    @cached_property
    def cue_vocab(self) -> CueVocab:
        """The vocabulary classified for cue-aware decoding (made on first use)."""
        return CueVocab(token_strings(self.token_bytes), device=self.device)

    @classmethod
    def from_tokenizer(cls, model: GPT, tokenizer, **kw) -> Engine:
        """Build an engine for a model trained with a ``ScriptTokenizer``."""
        return cls(
            model, tokenizer.token_bytes, tokenizer.end_id, slot_ids=tokenizer.slot_ids, **kw
        )

    # ------------------------------------------------------------------ public API
    def submit(
        self,
        prompt_ids: list[int],
        params: SamplingParams | None = None,
        callback: Callable[[RequestOutput], None] | None = None,
        request_id: str | None = None,
        cast: Sequence[str] = (),
        text_before: str = "",
        instructions: Sequence[tuple[str, object]] = (),
    ) -> str:
        """Queue a request; return its id. Raise ``QueueFull`` if the queue is full.

        ``cast``: the scene's cast (the prompt's). With ``params.cast_cues`` the character
        cues the draft writes name only them (cue-aware decoding, ``cues.py``). For a
        story-recipe model (``slot_ids``) the cast's character slots are written as their
        names and the slots of no one are never sampled. ``text_before`` is the text it
        continues (where its first line starts). ``instructions``: the checkable
        instructions the draft was asked to follow (``instructions.parse`` of its brief):
        kept by instruction-aware decoding (``guide.py``); a ``speakers`` instruction
        narrows the cue rule to its names and turns the rule on."""
        params = params or SamplingParams()
        if not prompt_ids:
            raise ValueError("empty prompt")
        seed = params.seed if params.seed is not None else secrets.randbits(63)
        decoder, slot_ban, name_tokens = IncrementalDecoder(self.token_bytes), None, None
        names = list(cast)
        if self.slot_ids:
            slots = CastSlots(slot_order(cast, text_before))
            names = slots.names
            slot_of = {t: k for k, t in enumerate(self.slot_ids[: len(names)], 1)}

            def render(token_id: int, at_line_start: bool) -> str | None:
                k = slot_of.get(token_id)
                return None if k is None else slots.render(k, at_line_start)

            decoder = SlotDecoder(self.token_bytes, render, text_before)
            slot_ban = torch.zeros(self.cfg.vocab_size, dtype=torch.bool)
            slot_ban[self.slot_ids[len(names) :]] = True
            slot_ban = slot_ban.to(self.device)
            name_tokens = {n.upper(): t for t, n in zip(self.slot_ids, names, strict=False)}
        pairs = list(instructions)
        speakers = next((v for k, v in pairs if k == "speakers"), None)
        cue_names = [str(n) for n in speakers] if speakers else names
        if speakers and name_tokens is not None:
            asked = set(cue_names)
            name_tokens = {n: t for n, t in name_tokens.items() if n in asked}
        cue = None
        if (params.cast_cues or speakers) and cue_names:
            cue = CueConstraint(cue_names, self.cue_vocab, text_before, name_tokens=name_tokens)
        guide = None
        if pairs:
            guide = InstructionGuide(pairs, self.guide_vocab, self.eos_id, text_before)
            guide = guide if guide.active else None
        req = _Request(
            id=request_id or uuid.uuid4().hex,
            prompt=list(prompt_ids),
            params=params,
            generator=torch.Generator().manual_seed(seed),
            stopbuf=StopStringBuffer(params.stop),
            submitted_at=time.perf_counter(),
            cue=cue,
            decoder=decoder,
            slot_ban=slot_ban,
            guide=guide,
        )
        with self._lock:
            if len(self._waiting) >= self.max_queue:
                raise QueueFull(f"generation queue is full ({self.max_queue} waiting requests)")
            self._waiting.append(req)
            if callback is not None:
                self._callbacks[req.id] = callback
            self._wake.notify()
        return req.id

    def cancel(self, request_id: str) -> None:
        """Cancel a waiting or running request; it finishes with ``"cancelled"`` next step."""
        with self._lock:
            self._cancel.add(request_id)
            self._wake.notify()

    def has_work(self) -> bool:
        with self._lock:
            return bool(self._waiting or self._running or self._cancel)

    @property
    def num_running(self) -> int:
        return len(self._running)

    @property
    def num_waiting(self) -> int:
        return len(self._waiting)

    def run_forever(self, stop_event: threading.Event, idle_wait: float = 0.05) -> None:
        """Step while there is work; sleep on a condition otherwise; return when ``stop_event`` is set."""
        while not stop_event.is_set():
            with self._lock:
                if not (self._waiting or self._running or self._cancel):
                    self._wake.wait(idle_wait)
                    continue
            self.step()

    def generate(
        self,
        prompts: list[list[int]],
        params: list[SamplingParams] | SamplingParams,
        asks: Sequence | None = None,
    ) -> list[Completion]:
        """Run prompts to completion (synchronously, batched); return them in order.

        ``asks``: the ``prompting.Prompt`` each prompt was made from (its cast, text and
        the instructions in its synopsis go to ``submit``: cue-aware and
        instruction-aware decoding, character slots), or None.

        For scripts, tests and benchmarks; do not mix with ``run_forever`` in another thread.
        At most ``max_queue`` prompts at once (``QueueFull`` otherwise).
        """
        if isinstance(params, SamplingParams):
            params = [params] * len(prompts)
        texts: dict[str, list[str]] = {}
        done: dict[str, RequestOutput] = {}
        toks: dict[str, list[int]] = {}

        def cb(o: RequestOutput) -> None:
            texts.setdefault(o.request_id, []).append(o.text)
            toks.setdefault(o.request_id, []).extend(o.token_ids)
            if o.finished:
                done[o.request_id] = o

        asks = asks if asks is not None else [None] * len(prompts)
        ids = [
            self.submit(
                p,
                sp,
                callback=cb,
                cast=a.cast if a is not None else (),
                text_before=a.text_prefix if a is not None else "",
                instructions=parse_instructions(a.synopsis) if a is not None else (),
            )
            for p, sp, a in zip(prompts, params, asks, strict=True)
        ]
        while len(done) < len(ids):
            self.step()
        return [
            Completion(
                i,
                "".join(texts.get(i, [])),
                toks.get(i, []),
                done[i].finish_reason,
                done[i].ttft_s,
                done[i].latency_s,
            )
            for i in ids
        ]

    # ------------------------------------------------------------------ the step
    @torch.inference_mode()
    def step(self) -> list[RequestOutput]:
        """Advance every running request by one token (or one prefill chunk); return outputs."""
        outputs: list[RequestOutput] = []
        with self._lock:
            if self._cancel:
                for r in [w for w in self._waiting if w.id in self._cancel]:
                    self._waiting.remove(r)
                    outputs.append(self._final(r, "cancelled", ""))
                for r in self._running:
                    r.cancelled = r.cancelled or r.id in self._cancel
                self._cancel.clear()
        # Only this (stepping) thread touches _running and the cache.
        self._drop_finished(
            outputs, [i for i, r in enumerate(self._running) if r.cancelled], "cancelled"
        )
        with self._lock:
            while self._waiting and len(self._running) < self.max_batch:
                self._running.append(self._admit(self._waiting.popleft()))
        if self._running:
            try:
                outputs += self._forward_and_sample()
            except Exception:
                # A failed step (out of memory, a bug) leaves the batch's cache state
                # unknown: fail every running request, keep the engine (and queue) alive.
                log.exception(
                    "generation step failed; failing %d running requests", len(self._running)
                )
                self._drop_finished(outputs, list(range(len(self._running))), "error")
        self._deliver(outputs)
        return outputs

    def _admit(self, r: _Request) -> _Request:
        # Cut long prompts from the left so that at least min(max_new_tokens, block/2)
        # tokens can still be generated.
        bs = self.cfg.block_size
        r.prompt = r.prompt[-prompt_budget(bs, r.params.max_new_tokens) :]
        r.seen = torch.zeros(self.cfg.vocab_size, dtype=torch.bool, device=self.device)
        return r

    def _forward_and_sample(self) -> list[RequestOutput]:
        flat: list[int] = []
        positions: list[int] = []
        slots: list[int] = []
        dec_slots, dec_index, dec_lens = [], [], []
        prefills: list[tuple[int, int, int, int]] = []
        rows: list[tuple[_Request, int]] = []  # requests that sample this step, flat index
        n_decode = sum(r.prefilled == len(r.prompt) for r in self._running)
        # Prefill gets what the decode tokens leave of the budget, but never nothing, so a
        # newcomer always progresses even behind a full batch.
        budget = max(self.step_token_budget - n_decode, min(self.prefill_chunk, 32))
        for slot, r in enumerate(self._running):
            if r.prefilled == len(r.prompt):
                idx = len(flat)
                flat.append(r.last_token)
                positions.append(r.cache_len)
                slots.append(slot)
                r.cache_len += 1
                dec_slots.append(slot)
                dec_index.append(idx)
                dec_lens.append(r.cache_len)
                rows.append((r, idx))
            else:
                n = min(len(r.prompt) - r.prefilled, self.prefill_chunk, budget)
                if n <= 0:
                    continue
                start = len(flat)
                flat.extend(r.prompt[r.prefilled : r.prefilled + n])
                positions.extend(range(r.cache_len, r.cache_len + n))
                slots.extend([slot] * n)
                prefills.append((slot, start, n, r.cache_len))
                r.prefilled += n
                r.cache_len += n
                budget -= n
                if r.prefilled == len(r.prompt):
                    rows.append((r, start + n - 1))
        dev = self.device

        def lt(x):
            return torch.tensor(x, dtype=torch.long, device=dev)

        plan = StepPlan(
            n_slots=len(self._running),
            decode_slots=lt(dec_slots),
            decode_index=lt(dec_index),
            decode_lens=lt(dec_lens),
            slot_of_token=lt(slots),
            prefills=prefills,
        )
        if not rows and not prefills:
            return []
        logits = self.model.forward_step(
            lt(flat), lt(positions), plan, self.cache, lt([i for _, i in rows])
        )
        if not rows:
            return []
        reqs = [r for r, _ in rows]
        seen = (
            torch.stack([r.seen for r in reqs])
            if any(r.params.repetition_penalty != 1.0 for r in reqs)
            else None
        )
        for i, r in enumerate(reqs):
            if r.slot_ban is not None:
                logits[i][r.slot_ban] = float("-inf")
            if r.cue is not None and (banned := r.cue.banned()) is not None:
                row = logits[i]
                if starts := r.cue.starts():  # a cue the rule refuses becomes a cast cue
                    refused = torch.logsumexp(row[banned].float(), 0)
                    r.cue.wants_cue = bool(refused - torch.logsumexp(row.float(), 0) > -0.7)
                    ids = list(starts)
                    shares = torch.tensor([starts[t] for t in ids], device=row.device).log()
                    moved = torch.logaddexp(row[ids].float(), refused + shares)
                    row[ids] = moved.to(row.dtype)
                row[banned] = float("-inf")
            if r.guide is not None:  # after the cue rule: a closing transition overrides it
                remaining = min(
                    r.params.max_new_tokens - len(r.output_ids),
                    self.cfg.block_size - r.cache_len,
                )
                r.guide.apply(logits[i], remaining)
        tokens = sample(logits, [r.params for r in reqs], [r.generator for r in reqs], seen)

        outputs: list[RequestOutput] = []
        finished: list[int] = []
        now = time.perf_counter()
        slot_of = {id(r): s for s, r in enumerate(self._running)}
        for r, tok in zip(reqs, tokens, strict=True):
            if r.first_token_at is None:
                r.first_token_at = now
            r.output_ids.append(tok)
            r.seen[tok] = True
            r.last_token = tok
            reason = None
            text = ""
            if tok == self.eos_id or tok in r.params.stop_token_ids:
                reason = "stop"
            else:
                piece = r.decoder.push(tok)
                if r.cue is not None:
                    r.cue.advance(piece)
                if r.guide is not None:
                    r.guide.advance(piece)
                text = r.stopbuf.add(piece)
                if r.stopbuf.stopped:
                    reason = "stop"
                elif (
                    len(r.output_ids) >= r.params.max_new_tokens
                    or r.cache_len >= self.cfg.block_size
                ):
                    reason = "length"
            if reason:
                finished.append(slot_of[id(r)])
                outputs.append(self._final(r, reason, text, new_ids=[tok]))
            else:
                outputs.append(RequestOutput(r.id, text, [tok]))
        self._drop_finished([], finished, None)
        return outputs

    def _final(self, r: _Request, reason: str, text: str, new_ids=None) -> RequestOutput:
        if not r.stopbuf.stopped and reason != "cancelled" and r.decoder is not None:
            text += r.stopbuf.add(r.decoder.flush())
        text += r.stopbuf.finish() if reason != "cancelled" else ""
        now = time.perf_counter()
        return RequestOutput(
            r.id,
            text,
            new_ids or [],
            finished=True,
            finish_reason=reason,
            prompt_tokens=len(r.prompt),
            completion_tokens=len(r.output_ids),
            ttft_s=(r.first_token_at - r.submitted_at) if r.first_token_at else None,
            latency_s=now - r.submitted_at,
        )

    def _drop_finished(self, outputs: list, slots: list[int], reason: str | None) -> None:
        """Remove requests at ``slots``, moving the last slot into each hole (descending order)."""
        for s in sorted(set(slots), reverse=True):
            r = self._running[s]
            if reason is not None:
                outputs.append(self._final(r, reason, ""))
            last = len(self._running) - 1
            if s != last:
                self.cache.move(last, s)
                self._running[s] = self._running[last]
            self._running.pop()

    def _deliver(self, outputs: list[RequestOutput]) -> None:
        if not outputs:
            return
        for o in outputs:
            cb = (
                self._callbacks.pop(o.request_id, None)
                if o.finished
                else self._callbacks.get(o.request_id)
            )
            if cb is not None:
                try:
                    cb(o)
                except Exception:  # a broken consumer must not kill the other streams
                    log.exception("generation callback failed for %s", o.request_id)
