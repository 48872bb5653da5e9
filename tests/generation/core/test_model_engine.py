import threading

import pytest
import torch

from generation.core.engine import Engine, QueueFull
from generation.core.model import GPT, GPTConfig
from generation.core.params import SamplingParams
from generation.core.prompting import Prompt, format_prompt


def _prompts(tok):
    return [
        format_prompt(
            tok, Prompt("INT. ELSINORE - A ROOM", ("HAMLET", "HORATIO"), "A ghost.", "HAMLET\n")
        ),
        format_prompt(tok, Prompt("EXT. SEA", ("MASTER",))),
        tok.encode("Queen.\nHow now, Ophelia? 😀 " * 3),
        [tok.text_id],
    ]


def _greedy_full(model, prompt, n):
    seq = list(prompt)
    for _ in range(n):
        logits = model(torch.tensor([seq]))[0, -1]
        seq.append(int(logits.argmax()))
    return seq[len(prompt) :]


def test_forward_shapes_and_tied_weights(tiny_model):
    x = torch.randint(0, tiny_model.cfg.vocab_size, (3, 17))
    logits, loss = tiny_model(x, x)
    assert logits.shape == (3, 17, tiny_model.cfg.vocab_size) and loss.ndim == 0
    assert tiny_model.lm_head.weight.data_ptr() == tiny_model.wte.weight.data_ptr()


@pytest.mark.parametrize("chunk", [1, 4, 64])
def test_kv_cache_decoding_equals_full_recomputation(tiny_model, tok, chunk):
    prompt = _prompts(tok)[0]
    eng = Engine.from_tokenizer(tiny_model, tok, max_batch=2, prefill_chunk=chunk)
    got = eng.generate(
        [prompt], SamplingParams(max_new_tokens=12, temperature=0, stop_token_ids=[])
    )[0]
    want = _greedy_full(tiny_model, prompt, len(got.token_ids))
    assert got.token_ids == want[: len(got.token_ids)]


def test_step_logits_match_full_forward(tiny_model, tok):
    # Compare the logits themselves, not just argmax, for two rows decoding together.
    prompts = _prompts(tok)[:2]
    eng = Engine.from_tokenizer(tiny_model, tok, max_batch=2, prefill_chunk=7)
    captured = {}
    orig = tiny_model.forward_step

    def spy(*a, **kw):
        out = orig(*a, **kw)
        captured.setdefault("all", []).append(out.clone())
        return out

    tiny_model.forward_step = spy
    try:
        res = eng.generate(prompts, SamplingParams(max_new_tokens=5, temperature=0))
    finally:
        del tiny_model.forward_step
    full = tiny_model(torch.tensor([prompts[0] + res[0].token_ids[:4]]))[0]
    last = captured["all"][-1]  # final step: both rows decoding
    assert torch.allclose(last[0], full[-1], atol=1e-4)


def test_batched_equals_one_at_a_time(tiny_model, tok):
    prompts = _prompts(tok)
    params = [
        SamplingParams(max_new_tokens=16, temperature=1.0, seed=1),
        SamplingParams(max_new_tokens=9, temperature=0.8, top_k=20, seed=2),
        SamplingParams(
            max_new_tokens=20, temperature=1.2, top_p=0.9, repetition_penalty=1.3, seed=3
        ),
        SamplingParams(max_new_tokens=12, temperature=0.7, min_p=0.05, seed=4),
    ]
    batched = Engine.from_tokenizer(
        tiny_model, tok, max_batch=4, prefill_chunk=8, step_token_budget=16
    )
    together = batched.generate(prompts, params)
    for p, sp, got in zip(prompts, params, together, strict=True):
        alone = Engine.from_tokenizer(tiny_model, tok, max_batch=1).generate([p], sp)[0]
        assert got.token_ids == alone.token_ids
        assert got.text == alone.text


def test_same_seed_same_text_different_seed_differs(tiny_model, tok):
    eng = Engine.from_tokenizer(tiny_model, tok)
    p = _prompts(tok)[1]
    a, b, c = eng.generate(
        [p, p, p], [SamplingParams(max_new_tokens=20, temperature=1.0, seed=s) for s in (7, 7, 8)]
    )
    assert a.token_ids == b.token_ids and a.token_ids != c.token_ids


def test_requests_join_a_running_batch(tiny_model, tok):
    eng = Engine.from_tokenizer(tiny_model, tok, max_batch=4, prefill_chunk=4)
    prompts = _prompts(tok)
    sp = SamplingParams(max_new_tokens=10, temperature=1.0, seed=5)
    alone = Engine.from_tokenizer(tiny_model, tok, max_batch=1).generate([prompts[2]], sp)[0]
    outs = {}
    eng.submit(prompts[0], SamplingParams(max_new_tokens=30, temperature=1.0, seed=9))
    for _ in range(5):
        eng.step()
    late = eng.submit(prompts[2], sp, callback=lambda o: outs.setdefault("x", []).append(o))
    while eng.has_work():
        eng.step()
    assert [t for o in outs["x"] for t in o.token_ids] == alone.token_ids
    assert outs["x"][-1].finished and outs["x"][-1].request_id == late


def test_stop_string_cuts_and_is_never_streamed(tiny_model, tok):
    p = _prompts(tok)[0]
    free = Engine.from_tokenizer(tiny_model, tok).generate(
        [p], SamplingParams(max_new_tokens=40, temperature=1.0, seed=3)
    )[0]
    assert len(free.text) > 6
    stop = free.text[3:6]
    deltas = []
    eng = Engine.from_tokenizer(tiny_model, tok)
    eng.submit(
        p,
        SamplingParams(max_new_tokens=40, temperature=1.0, seed=3, stop=[stop]),
        callback=deltas.append,
    )
    while eng.has_work():
        eng.step()
    text = "".join(d.text for d in deltas)
    assert text == free.text[: free.text.find(stop)]
    assert deltas[-1].finish_reason == "stop"
    assert stop not in text


def test_cancel_one_request_leaves_others_intact(tiny_model, tok):
    prompts = _prompts(tok)[:3]
    params = [SamplingParams(max_new_tokens=25, temperature=1.0, seed=i) for i in range(3)]
    ref = Engine.from_tokenizer(tiny_model, tok).generate(prompts, params)
    eng = Engine.from_tokenizer(tiny_model, tok)
    got: dict[str, list] = {}
    ids = [
        eng.submit(p, sp, callback=lambda o: got.setdefault(o.request_id, []).append(o))
        for p, sp in zip(prompts, params, strict=True)
    ]
    for _ in range(4):
        eng.step()
    eng.cancel(ids[0])
    while eng.has_work():
        eng.step()
    assert got[ids[0]][-1].finish_reason == "cancelled"
    for i in (1, 2):
        assert [t for o in got[ids[i]] for t in o.token_ids] == ref[i].token_ids


def test_queue_full_and_cancel_waiting(tiny_model, tok):
    eng = Engine.from_tokenizer(tiny_model, tok, max_batch=1, max_queue=2)
    p = _prompts(tok)[3]
    a = eng.submit(p)
    eng.submit(p)
    with pytest.raises(QueueFull):
        eng.submit(p)
    eng.cancel(a)
    outs = eng.step()
    assert any(o.request_id == a and o.finish_reason == "cancelled" for o in outs)


def test_eos_and_length_limits(tok):
    torch.manual_seed(1)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=24, n_layer=1, n_head=1, n_embd=16)
    model = GPT(cfg).eval()
    with torch.no_grad():
        model.wte.weight[tok.end_id] *= 0  # keep <|end|> unlikely
    eng = Engine.from_tokenizer(model, tok)
    r = eng.generate([list(range(6, 26))], SamplingParams(max_new_tokens=100, temperature=0))[0]
    assert r.finish_reason == "length" and len(r.token_ids) <= 24
    # Force <|end|>: a model whose every logit favours it.
    with torch.no_grad():
        model.wte.weight[tok.end_id] = 0
        model.wte.weight[tok.end_id, :] = 50.0
        model.norm_f.weight.fill_(1.0)
    r2 = Engine.from_tokenizer(model, tok).generate(
        [[tok.text_id]], SamplingParams(max_new_tokens=10, temperature=0)
    )[0]
    assert r2.finish_reason in ("stop", "length")


def test_run_forever_thread(tiny_model, tok):
    eng = Engine.from_tokenizer(tiny_model, tok)
    stop = threading.Event()
    th = threading.Thread(target=eng.run_forever, args=(stop,), daemon=True)
    th.start()
    done = threading.Event()
    eng.submit(
        _prompts(tok)[1],
        SamplingParams(max_new_tokens=5, seed=1),
        callback=lambda o: o.finished and done.set(),
    )
    assert done.wait(10)
    stop.set()
    th.join(5)


def test_long_prompt_is_cut_to_fit(tiny_model, tok):
    outs = []
    eng = Engine.from_tokenizer(tiny_model, tok)
    long_prompt = tok.encode("Queen.\nHow now, Ophelia? " * 40)
    assert len(long_prompt) > tiny_model.cfg.block_size
    eng.submit(
        long_prompt,
        SamplingParams(max_new_tokens=500, seed=1, stop_token_ids=[tok.end_id]),
        callback=outs.append,
    )
    while eng.has_work():
        eng.step()
    final = [o for o in outs if o.finished]
    assert len(final) == 1 and final[0].finish_reason in ("length", "stop")
    # The prompt was cut from the left to leave room; the sequence never exceeds block_size.
    assert final[0].prompt_tokens + final[0].completion_tokens <= tiny_model.cfg.block_size + 1


def test_failed_step_fails_running_requests_only(tiny_model, tok, monkeypatch):
    eng = Engine.from_tokenizer(tiny_model, tok, max_batch=1)
    p = _prompts(tok)[1]
    outs = []
    a = eng.submit(p, SamplingParams(max_new_tokens=5, seed=1), callback=outs.append)
    b = eng.submit(p, SamplingParams(max_new_tokens=5, seed=1), callback=outs.append)
    boom = {"on": True}
    orig = tiny_model.forward_step

    def flaky(*args, **kw):
        if boom["on"]:
            boom["on"] = False
            raise RuntimeError("out of memory")
        return orig(*args, **kw)

    monkeypatch.setattr(tiny_model, "forward_step", flaky)
    while eng.has_work():
        eng.step()
    final = {o.request_id: o.finish_reason for o in outs if o.finished}
    assert final == {a: "error", b: "length"}
