"""Chat messages (``chat.py``) and the chat paths of the hf / openai_compat backends.

The OpenAI-compatible server is a small fake on 127.0.0.1 (also playing hostile
servers); the Hugging Face model is a tiny random Llama built on the spot
(``tests/support/tiny_hf.py``). Nothing is downloaded.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from generation.core.backends.base import BackendError, GenerationRequest
from generation.core.backends.openai_compat import OpenAICompatBackend
from generation.core.chat import chat_messages, chat_text_fallback
from generation.core.params import SamplingParams
from generation.core.prompting import Prompt, prompt_text
from generation.core.storylevels import level_heading, task_instruction

BRIEF = "\n".join(
    [
        "Hamlet meets the ghost on the battlements.",
        "Keep it eerie.",
        "From the card: the ghost beckons.",
        "Cast: HAMLET — the prince; HORATIO — his friend",
        "Before this: INT. CASTLE - HALL — The court celebrates.",
        "Story: A prince avenges his father.",
    ]
)
SCENE = Prompt("EXT. BATTLEMENTS - NIGHT", ("HAMLET", "HORATIO"), BRIEF)


def _roles(messages):
    return [m["role"] for m in messages]


# --------------------------------------------------------------------------- chat_messages


def test_chat_messages_new_scene():
    msgs = chat_messages(SCENE)
    assert _roles(msgs) == ["system", "user"]
    system, user = msgs[0]["content"], msgs[1]["content"]
    assert "Fountain" in system and "capitals" in system and "fences" in system
    assert "Scene heading:\nEXT. BATTLEMENTS - NIGHT" in user
    assert "Cast:\nHAMLET, HORATIO" in user
    assert "Brief:\n" + BRIEF in user  # the brief's labelled lines as they are
    assert "Text so far" not in user and "Text after" not in user
    assert user.splitlines()[-1] == "Write the scene."
    assert chat_messages(SCENE) == msgs  # deterministic
    assert json.loads(json.dumps(msgs)) == msgs  # plain JSON, storable as sent


def test_chat_messages_continuation():
    p = Prompt(SCENE.heading, SCENE.cast, BRIEF, text_prefix="HAMLET\nWho's there?\n\nHORATIO\n")
    system, user = (m["content"] for m in chat_messages(p))
    assert "Continue the scene exactly where the text stops" in system
    assert "Text so far:\nHAMLET\nWho's there?\n\nHORATIO\n" in user
    assert "Brief:\n" + BRIEF in user
    assert user.splitlines()[-1] == "Continue the scene from where the text stops."


def test_chat_messages_rewrite():
    p = Prompt(
        SCENE.heading,
        SCENE.cast,
        BRIEF,
        text_prefix="HAMLET\nWho's there?\n",
        text_suffix="HORATIO\nLong live the king!\n",
    )
    system, user = (m["content"] for m in chat_messages(p))
    assert "only the replacement for the missing passage" in system
    assert "Text so far:\nHAMLET\nWho's there?\n" in user
    assert "Text after the passage to write:\nHORATIO\nLong live the king!" in user
    assert user.index("Text so far") < user.index("Text after the passage")
    assert user.splitlines()[-1] == "Write the missing passage."


def test_chat_messages_story_beats_act_2():
    p = Prompt(
        level_heading("beats", 2),
        ("HAMLET",),
        "Logline: A prince avenges his father.\nAct 1: the ghost.",
        kind="beats",
    )
    msgs = chat_messages(p)
    assert _roles(msgs) == ["system", "user"]
    assert task_instruction("beats", 2) in msgs[0]["content"]
    assert "act 2" in msgs[0]["content"]
    user = msgs[1]["content"]
    assert "A prince avenges his father.\nAct 1: the ghost." in user and "HAMLET" in user
    assert "Fountain" not in msgs[0]["content"]
    assert chat_messages(p) == msgs
    assert chat_text_fallback(p) == prompt_text(p)


# --------------------------------------------------------------------------- fake server


class _ChatHandler(BaseHTTPRequestHandler):
    seen: list = []
    release = threading.Event()  # set at teardown: hostile handlers stop waiting

    def log_message(self, *a):
        pass

    def _sse(self, payload) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()

    def _start(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, body))
        mode = body.get("model")
        try:
            if mode == "silent":  # accepts, reads the request, never answers
                self.release.wait(10)
            elif mode == "http500":
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b"internal error " + b"x" * 2000)
            elif mode == "garbage":
                self._start()
                self._sse({"choices": [{"delta": {"content": "ok"}}]})
                self._sse("<html>not json</html>")
            elif mode == "not-object":
                self._start()
                self._sse("[1, 2, 3]")
            elif mode == "stall":  # a few pieces, then nothing
                self._start()
                self._sse({"choices": [{"delta": {"content": "Hel"}}]})
                self.release.wait(10)
            elif mode == "endless":  # ignores max_tokens
                self._start()
                while not self.release.is_set():
                    self._sse({"choices": [{"delta": {"content": "la "}}]})
            elif mode == "huge":  # one enormous chunk
                self._start()
                self._sse({"choices": [{"delta": {"content": "y" * 5000}}]})
                self._sse("[DONE]")
            else:
                self._start()
                self.wfile.write(b": keep-alive\n\n")
                self._sse({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
                self._sse({"choices": [{"delta": {"reasoning_content": "hmm, think"}}]})
                for piece in ["HAMLET\n", "Who's ", "", "there?"]:
                    self._sse({"choices": [{"index": 0, "delta": {"content": piece}}]})
                self._sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                self._sse({"choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 4}})
                self._sse("[DONE]")
        except OSError:
            pass  # the client hung up (a cut stream)


@pytest.fixture()
def chat_server():
    _ChatHandler.seen = []
    _ChatHandler.release = threading.Event()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _ChatHandler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    _ChatHandler.release.set()
    srv.shutdown()
    srv.server_close()


def _request(max_new_tokens=20, **kw):
    p = Prompt("INT. CASTLE", ("HAMLET",), "Hamlet alone.", text_prefix="HAMLET\n")
    return GenerationRequest(p, params=SamplingParams(max_new_tokens=max_new_tokens, **kw))


# --------------------------------------------------------------------------- openai chat


@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/"])
def test_openai_chat_streams_delta_content(chat_server, suffix):
    be = OpenAICompatBackend(chat_server + suffix, model="m", chat=True, timeout=5)
    req = _request(seed=3)
    deltas = []
    r = be.generate(req, on_text=deltas.append)
    assert r.text == "HAMLET\nWho's there?" == "".join(deltas)
    assert "hmm" not in r.text  # reasoning_content is not the answer
    assert r.finish_reason == "stop"
    assert r.prompt_tokens == 40 and r.completion_tokens == 4
    path, body = _ChatHandler.seen[-1]
    assert path == "/v1/chat/completions"
    assert body["stream"] is True and body["max_tokens"] == 20 and body["seed"] == 3
    assert "prompt" not in body
    assert body["messages"] == chat_messages(req.prompt) == r.sent["messages"]
    assert r.sent == {"messages": body["messages"]}


def test_openai_completion_fills_sent(chat_server):
    # The completion path keeps its shape; `sent` is the plain prompt as sent.
    be = OpenAICompatBackend(chat_server, model="m", timeout=5)
    r = be.generate(_request())
    path, body = _ChatHandler.seen[-1]
    assert path == "/v1/completions" and r.sent == {"prompt": body["prompt"]}
    assert r.sent["prompt"] == prompt_text(_request().prompt)


@pytest.mark.parametrize("chat", [True, False])
def test_openai_server_never_answers(chat_server, chat):
    be = OpenAICompatBackend(chat_server, model="silent", chat=chat, timeout=1)
    t0 = time.monotonic()
    with pytest.raises(BackendError):
        be.generate(_request())
    assert time.monotonic() - t0 < 3


def test_openai_server_stalls_mid_stream(chat_server):
    be = OpenAICompatBackend(chat_server, model="stall", chat=True, timeout=1)
    deltas = []
    t0 = time.monotonic()
    with pytest.raises(BackendError):
        be.generate(_request(), on_text=deltas.append)
    assert time.monotonic() - t0 < 3
    assert "".join(deltas) == "Hel"


def test_openai_endless_stream_cut_locally(chat_server):
    be = OpenAICompatBackend(chat_server, model="endless", chat=True, timeout=5)
    deltas = []
    r = be.generate(_request(max_new_tokens=7), on_text=deltas.append)
    assert r.finish_reason == "length"
    assert r.text == "la " * 7 == "".join(deltas)


def test_openai_huge_chunk_cut_at_char_cap(chat_server):
    be = OpenAICompatBackend(chat_server, model="huge", chat=True, timeout=5)
    r = be.generate(_request(max_new_tokens=5))
    assert r.finish_reason == "length" and r.text == "y" * (5 * 16)


@pytest.mark.parametrize("model", ["garbage", "not-object"])
def test_openai_bad_payload(chat_server, model):
    be = OpenAICompatBackend(chat_server, model=model, chat=True, timeout=5)
    with pytest.raises(BackendError, match="SSE payload"):
        be.generate(_request())


def test_openai_http_500(chat_server):
    be = OpenAICompatBackend(chat_server, model="http500", chat=True, timeout=5)
    with pytest.raises(BackendError, match="500") as e:
        be.generate(_request())
    assert "internal error" in str(e.value) and len(str(e.value)) < 600


# --------------------------------------------------------------------------- hf chat


@pytest.fixture(scope="module")
def tiny_llama_dirs(tmp_path_factory):
    pytest.importorskip("transformers")
    from tests.support.tiny_hf import SIMPLE_CHAT_TEMPLATE, build_tiny_llama

    chat_dir = tmp_path_factory.mktemp("llama-chat")
    plain_dir = tmp_path_factory.mktemp("llama-plain")
    build_tiny_llama(chat_dir, SIMPLE_CHAT_TEMPLATE)
    build_tiny_llama(plain_dir, None)
    return chat_dir, plain_dir


def test_hf_chat_template_used(tiny_llama_dirs):
    from generation.core.backends.hf import HFBackend

    be = HFBackend(str(tiny_llama_dirs[0]), device="cpu")
    assert be.uses_chat is True
    req = _request(max_new_tokens=6, temperature=0)
    deltas = []
    r = be.generate(req, on_text=deltas.append)
    assert r.text == "".join(deltas) and r.finish_reason in ("stop", "length")
    assert r.sent == {"messages": chat_messages(req.prompt)}
    rendered = be.tokenizer.apply_chat_template(
        chat_messages(req.prompt), add_generation_prompt=True, tokenize=False
    )
    assert rendered.startswith("<|system|>") and rendered.endswith("<|assistant|>")
    assert r.prompt_tokens == len(be.tokenizer(rendered, add_special_tokens=False).input_ids)
    assert be.tokenizer.eos_token_id in be.eos_ids
    # chat=False forces the plain prompt even with a template.
    off = HFBackend(str(tiny_llama_dirs[0]), device="cpu", chat=False)
    assert off.uses_chat is False
    assert off.generate(req).sent == {"prompt": prompt_text(req.prompt)}


def test_hf_without_template_falls_back(tiny_llama_dirs):
    from generation.core.backends.hf import HFBackend

    be = HFBackend(str(tiny_llama_dirs[1]), device="cpu")
    assert be.uses_chat is False
    req = _request(max_new_tokens=4, temperature=0)
    r = be.generate(req)
    assert r.sent == {"prompt": prompt_text(req.prompt)}
    assert r.completion_tokens <= 4


def test_hf_template_with_bos_adds_no_second_bos(tmp_path):
    pytest.importorskip("transformers")
    from generation.core.backends.hf import HFBackend
    from tests.support.tiny_hf import SIMPLE_CHAT_TEMPLATE, build_tiny_llama

    _, tk = build_tiny_llama(tmp_path, "{{ bos_token }}" + SIMPLE_CHAT_TEMPLATE)
    be = HFBackend(str(tmp_path), device="cpu")
    ids, sent = be._encode(_request().prompt)
    assert sent == {"messages": chat_messages(_request().prompt)}
    assert ids[0, 0].item() == tk.bos_token_id and ids[0, 1].item() != tk.bos_token_id
