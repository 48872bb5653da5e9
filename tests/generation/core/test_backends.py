import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from generation.core.backends import DEFAULT_BACKEND, GenerationRequest, get_backend
from generation.core.backends.base import BackendError
from generation.core.checkpoint import save_version
from generation.core.params import SamplingParams
from generation.core.prompting import Prompt

# --------------------------------------------------------------------------- local


def test_local_backend_streams_and_cancels(tiny_model, tok, tmp_path):
    save_version(tmp_path / "v", tiny_model, tok)
    with get_backend(DEFAULT_BACKEND, model_dir=str(tmp_path / "v"), max_batch=4) as be:
        req = GenerationRequest(
            Prompt("INT. CASTLE", ("HAMLET",)), params=SamplingParams(max_new_tokens=20, seed=1)
        )
        deltas = []
        r = be.generate(req, on_text=deltas.append)
        assert r.text == "".join(deltas) and r.finish_reason in ("stop", "length")
        assert be.generate(req).text == r.text  # same seed, same text
        cancel = threading.Event()
        cancel.set()
        r2 = be.generate(
            GenerationRequest(params=SamplingParams(max_new_tokens=90, seed=2)), cancel=cancel
        )
        assert r2.finish_reason == "cancelled"


def test_bad_dotted_path():
    with pytest.raises((ImportError, AttributeError, TypeError)):
        get_backend("generation.core.sampling.SamplingParams")


# --------------------------------------------------------------------------- hf


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory, tok):
    transformers = pytest.importorskip("transformers")
    d = tmp_path_factory.mktemp("hf-gpt2")
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok.tok, eos_token="<|end|>", pad_token="<|pad|>"
    )
    fast.save_pretrained(d)
    cfg = transformers.GPT2Config(
        vocab_size=tok.vocab_size,
        n_positions=256,
        n_embd=32,
        n_layer=1,
        n_head=2,
        eos_token_id=tok.end_id,
        bos_token_id=tok.end_id,
    )
    import torch

    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(d)
    return d


def test_hf_backend_matches_greedy_generate(hf_dir):
    import torch
    import transformers

    be = get_backend("generation.core.backends.hf.HFBackend", model_dir=str(hf_dir), device="cpu")
    req = GenerationRequest(
        Prompt("INT. CASTLE", text_prefix="HAMLET\n"),
        params=SamplingParams(max_new_tokens=12, temperature=0),
    )
    deltas = []
    r = be.generate(req, on_text=deltas.append)
    assert r.text == "".join(deltas)
    # Same tokens as transformers' own greedy generate().
    model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, local_files_only=True)
    tk = transformers.AutoTokenizer.from_pretrained(hf_dir, local_files_only=True)
    from generation.core.prompting import prompt_text

    ids = tk(
        prompt_text(Prompt("INT. CASTLE", text_prefix="HAMLET\n")), return_tensors="pt"
    ).input_ids
    with torch.no_grad():
        ref = model.generate(ids, max_new_tokens=12, do_sample=False, pad_token_id=tk.pad_token_id)
    ref_ids = [t for t in ref[0, ids.shape[1] :].tolist() if t != tk.eos_token_id]
    assert r.text == tk.decode(ref_ids[: r.completion_tokens], skip_special_tokens=True)


def test_hf_backend_seed_and_stop(hf_dir):
    be = get_backend("generation.core.backends.hf.HFBackend", model_dir=str(hf_dir))
    p = SamplingParams(max_new_tokens=30, temperature=1.0, seed=4)
    a = be.generate(GenerationRequest(params=p)).text
    assert be.generate(GenerationRequest(params=p)).text == a
    if len(a) > 5:
        stop = a[2:4]
        r = be.generate(
            GenerationRequest(
                params=SamplingParams(max_new_tokens=30, temperature=1.0, seed=4, stop=[stop])
            )
        )
        assert r.text == a[: a.find(stop)] and r.finish_reason == "stop"


def test_hf_backend_missing_folder(tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(BackendError):
        get_backend("generation.core.backends.hf.HFBackend", model_dir=str(tmp_path))


# --------------------------------------------------------------------------- openai-compatible


class _SSEHandler(BaseHTTPRequestHandler):
    pieces = ["Hel", "lo", " wor", "ld", " ST", "OP", " never sent"]
    seen: list = []

    def log_message(self, *a):  # keep pytest output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, body))
        if body.get("model") == "broken":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b": keep-alive comment\n\n")
        for i, p in enumerate(self.pieces):
            fin = "length" if i == len(self.pieces) - 1 else None
            chunk = {
                "id": "c",
                "object": "text_completion",
                "choices": [{"index": 0, "text": p, "finish_reason": fin}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture()
def sse_server():
    _SSEHandler.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _SSEHandler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_openai_stream_and_done(sse_server):
    be = get_backend(
        "generation.core.backends.openai_compat.OpenAICompatBackend", base_url=sse_server, model="m"
    )
    deltas = []
    r = be.generate(
        GenerationRequest(Prompt("INT. CASTLE"), params=SamplingParams(max_new_tokens=7, seed=3)),
        on_text=deltas.append,
    )
    assert r.text == "Hello world STOP never sent" == "".join(deltas)
    assert r.finish_reason == "length"
    path, body = _SSEHandler.seen[-1]
    assert (
        path == "/v1/completions"
        and body["stream"] is True
        and body["max_tokens"] == 7
        and body["seed"] == 3
    )
    assert body["prompt"].startswith("INT. CASTLE")


def test_openai_stop_applied_locally(sse_server):
    be = get_backend(
        "generation.core.backends.openai_compat.OpenAICompatBackend",
        base_url=sse_server + "/v1",
        model="m",
    )
    deltas = []
    r = be.generate(GenerationRequest(params=SamplingParams(stop=[" STOP"])), on_text=deltas.append)
    assert r.text == "Hello world" == "".join(deltas) and r.finish_reason == "stop"
    assert _SSEHandler.seen[-1][0] == "/v1/completions"


def test_openai_http_error(sse_server):
    be = get_backend(
        "generation.core.backends.openai_compat.OpenAICompatBackend",
        base_url=sse_server,
        model="broken",
    )
    with pytest.raises(BackendError, match="HTTP 500"):
        be.generate(GenerationRequest())
