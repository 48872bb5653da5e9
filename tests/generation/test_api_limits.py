"""The API's hardening, against a real server and worker over real HTTP/SSE: per-token rate
and concurrency limits (429 + Retry-After), one queue limit for drafts and API requests,
one capacity rule on the worker, cancelling work whose client has gone, and 400s (never
500s) for bad values.

The worker runs ``tests.support.backends.RecordingBackend`` (slow, and it writes down what
it was asked), so the tests can see inside a worker in another process: which requests
started, how many ran at once, which were cancelled."""

import asyncio
import json
import os
import time

import httpx2 as httpx
import openai
import pytest

from generation.api import token_create
from generation.models import Passage, PassageStatus
from tests.support.backends import read_record
from tests.support.models import register_tiny_version
from tests.support.roomclient import RoomClient
from tests.support.servers import DaphneServer, generation_stack, session_for
from tests.support.threads import in_thread, run_async

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
REDIS = bool(os.environ.get("REDIS_URL"))


@pytest.fixture
def model(settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    return register_tiny_version(settings.MODEL_DIR)


def recording_stack(tmp_path, delay=0.05, **env):
    record = tmp_path / "record.jsonl"
    env = {
        "COWRITE_GENERATION_BACKEND": "tests.support.backends.RecordingBackend",
        "COWRITE_GENERATION_BACKEND_OPTIONS": json.dumps({"record": str(record), "delay": delay}),
        **{k: str(v) for k, v in env.items()},
    }
    return generation_stack(env=env), record


def new_secret(user=None, name="tests"):
    from tests.conftest import make_user

    if user is None:
        user = make_user(f"api{time.monotonic_ns()}")
    return token_create(user=user, name=name)[1]


def headers(secret):
    return {"Authorization": f"Bearer {secret}"}


def events_of(record, request_id=None):
    rows = read_record(record)
    return [r for r in rows if request_id is None or r["id"] == request_id]


def api_ids(record):
    return [
        r["id"] for r in read_record(record) if r["event"] == "start" and r["id"].startswith("api-")
    ]


async def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate() if asyncio.iscoroutinefunction(predicate) else predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def open_stream(client, secret, **body):
    """Start a streaming completion; return (response, its line iterator) once a first
    chunk arrived (the request is running on the worker)."""
    request = client.build_request(
        "POST",
        "/v1/completions",
        headers=headers(secret),
        json={"model": "tiny-test-v1", "prompt": "MARA\n", "stream": True, **body},
    )
    response = await client.send(request, stream=True)
    assert response.status_code == 200, await response.aread()
    lines = response.aiter_lines()
    async for line in lines:
        if line.startswith("data: {"):
            assert '"choices"' in line, line
            break
    return response, lines


async def warm_up(client, secret):
    """Wait until the worker serves (it loads its backend after the server starts)."""
    body = {"model": "tiny-test-v1", "prompt": "x", "max_tokens": 1}
    for _ in range(100):
        r = await client.post("/v1/completions", headers=headers(secret), json=body)
        if r.status_code == 200:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the worker never served")


def test_rate_limit_per_token_answers_429_with_retry_after(model, tmp_path):
    secret, other = new_secret(), new_secret()
    stack, _ = recording_stack(tmp_path, delay=0.001, COWRITE_API_RATE_LIMIT=3)
    with stack as (server, _):
        client = openai.OpenAI(base_url=f"{server.http_url}/v1", api_key=secret, max_retries=0)
        for _ in range(3):
            assert client.completions.create(model="tiny-test-v1", prompt="x", max_tokens=2)
        with pytest.raises(openai.RateLimitError) as caught:
            client.completions.create(model="tiny-test-v1", prompt="x", max_tokens=2)
        response = caught.value.response
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        error = response.json()["error"]
        assert error["code"] == "rate_limit_exceeded" and "3 requests" in error["message"]
        # Per token: another token is still served.
        other_client = openai.OpenAI(base_url=f"{server.http_url}/v1", api_key=other, max_retries=0)
        assert other_client.completions.create(model="tiny-test-v1", prompt="x", max_tokens=2)


@pytest.mark.redis
@pytest.mark.skipif(not REDIS, reason="several web processes share limits through REDIS_URL")
def test_the_rate_limit_holds_across_web_processes(model, tmp_path):
    secret = new_secret()
    stack, _ = recording_stack(tmp_path, delay=0.001, COWRITE_API_RATE_LIMIT=4)
    body = {"model": "tiny-test-v1", "prompt": "x", "max_tokens": 1}
    with stack as (one, worker), DaphneServer(env=worker.env) as two:
        client = httpx.Client(timeout=30)
        codes = [
            client.post(
                f"{server.http_url}/v1/completions", headers=headers(secret), json=body
            ).status_code
            for server in (one, two, one, two, one, two)
        ]
        client.close()
    assert codes == [200, 200, 200, 200, 429, 429]


def test_concurrency_cap_per_token_and_the_slot_comes_back(model, tmp_path):
    secret, other = new_secret(), new_secret()
    stack, record = recording_stack(tmp_path, COWRITE_API_TOKEN_CONCURRENCY=1)

    async def run(server):
        async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
            first, _ = await open_stream(client, secret, max_tokens=400)
            body = {"model": "tiny-test-v1", "prompt": "x", "max_tokens": 2}
            refused = await client.post("/v1/completions", headers=headers(secret), json=body)
            served = await client.post("/v1/completions", headers=headers(other), json=body)
            await first.aclose()  # the client goes away: its slot is freed

            async def again():
                r = await client.post("/v1/completions", headers=headers(secret), json=body)
                return r.status_code == 200

            return refused, served, await wait_for(again, 10)

    with stack as (server, _):
        refused, served, freed = asyncio.run(run(server))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "concurrency_limit_exceeded"
    assert served.status_code == 200
    assert freed


def test_a_client_that_disconnects_mid_stream_cancels_its_generation(model, tmp_path):
    # One slot on the worker: the next request can only run once the first one stopped.
    stack, record = recording_stack(tmp_path, COWRITE_GENERATION_MAX_BATCH=1)

    async def run(server, secret):
        async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
            response, lines = await open_stream(client, secret, max_tokens=400)  # ~20 s
            await lines.__anext__()
            await response.aclose()  # mid-stream
            (first,) = api_ids(record)
            cancelled = await wait_for(
                lambda: any(e["event"] == "cancelled" for e in events_of(record, first)), 10
            )
            # A client that gives up on a non-streaming request cancels it too.
            gave_up = asyncio.create_task(
                client.post(
                    "/v1/completions",
                    headers=headers(secret),
                    json={"model": "tiny-test-v1", "prompt": "x", "max_tokens": 400},
                )
            )
            assert await wait_for(lambda: len(api_ids(record)) == 2, 10)
            gave_up.cancel()
            await asyncio.gather(gave_up, return_exceptions=True)
            (other,) = [i for i in api_ids(record) if i != first]
            cancelled = cancelled and await wait_for(
                lambda: any(e["event"] == "cancelled" for e in events_of(record, other)), 10
            )
            started = time.monotonic()
            second = await client.post(
                "/v1/completions",
                headers=headers(secret),
                json={"model": "tiny-test-v1", "prompt": "x", "max_tokens": 3},
            )
            return first, cancelled, second, time.monotonic() - started

    with stack as (server, _):
        first, cancelled, second, took = asyncio.run(run(server, new_secret()))
    assert cancelled, events_of(record, first)
    (end,) = [e for e in events_of(record, first) if e["event"] != "start"]
    assert end["event"] == "cancelled" and end["tokens"] < 200
    # The slot was freed: the next request ran at once, not after the first's 20 s.
    assert second.status_code == 200 and second.json()["choices"][0]["text"] == "word " * 3
    assert took < 8
    assert max(e.get("running", 0) for e in read_record(record)) == 1


def test_a_request_that_times_out_never_runs_on_the_worker(model, tmp_path):
    stack, record = recording_stack(
        tmp_path, COWRITE_GENERATION_MAX_BATCH=1, COWRITE_API_FIRST_REPLY_SECONDS=1.5
    )

    async def run(server, secret):
        async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
            await warm_up(client, secret)
            _, busy = await open_stream(client, secret, max_tokens=60)  # holds the slot ~3 s
            waited = await client.post(
                "/v1/completions",
                headers=headers(secret),
                json={"model": "tiny-test-v1", "prompt": "x", "max_tokens": 5},
            )
            async for _ in busy:  # the first one runs to its end
                pass
            await asyncio.sleep(2.5)  # a worker would have started the second one by now
            return waited

    with stack as (server, _):
        waited = asyncio.run(run(server, new_secret()))
    assert waited.status_code == 503, waited.text
    assert waited.json()["error"]["type"] == "server_error"
    assert len(api_ids(record)) == 2, read_record(record)  # the warm-up and the first only


def test_one_queue_limit_and_one_capacity_rule_for_drafts_and_api_requests(model, tmp_path, team):
    # One slot per worker and room for one waiting request (draft or API) in the queue.
    stack, record = recording_stack(
        tmp_path, COWRITE_GENERATION_MAX_BATCH=1, COWRITE_GENERATION_MAX_QUEUE=1
    )
    secret = new_secret(team.users["editor"])
    scene = team.scenes[0]

    async def run(server):
        editor = RoomClient(
            server.ws_url,
            team.project.pk,
            scene.pk,
            await in_thread(session_for, team.users["editor"]),
            server.http_url,
        )
        await editor.connect()
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
            running, _ = await open_stream(client, secret, max_tokens=200)  # the slot, ~10 s
            # A second API request waits for the slot: the queue (1) is full...
            waiting = asyncio.create_task(
                client.post(
                    "/v1/completions",
                    headers=headers(secret),
                    json={"model": "tiny-test-v1", "prompt": "x", "max_tokens": 5},
                )
            )
            await asyncio.sleep(1.0)
            # ...for drafts too.
            await editor.request_draft(task="new", max_new_tokens=20)
            assert await wait_for(lambda: editor.errors, 10)
            refused_draft = list(editor.errors)
            waiting.cancel()  # its client gone: it leaves the queue (and never runs)
            await asyncio.gather(waiting, return_exceptions=True)
            await asyncio.sleep(0.5)
            # Now a draft fits in the queue, but it must wait for the slot the API holds.
            await editor.request_draft(task="new", max_new_tokens=20)
            assert await wait_for(lambda: Passage.objects.filter(scene=scene).exists(), 10)
            await asyncio.sleep(2.0)  # the worker sweeps every second
            status_while_busy = await in_thread(lambda: Passage.objects.get(scene=scene).status)
            # The queued draft fills the queue: the API refuses more.
            full = await client.post(
                "/v1/completions",
                headers=headers(secret),
                json={"model": "tiny-test-v1", "prompt": "x", "max_tokens": 2},
            )
            await running.aclose()
            done = await wait_for(
                lambda: Passage.objects.get(scene=scene).status == PassageStatus.DONE, 20
            )
        await editor.close()
        return refused_draft, status_while_busy, full, done

    with stack as (server, _):
        refused_draft, status_while_busy, full, done = run_async(run(server))
    assert refused_draft == ["The generation queue is full; try again in a minute."]
    assert status_while_busy == PassageStatus.QUEUED
    assert full.status_code == 429 and full.json()["error"]["code"] == "queue_full"
    assert int(full.headers["Retry-After"]) >= 1
    assert done
    rows = read_record(record)
    assert max(r.get("running", 0) for r in rows) == 1  # never two streams in one slot
    assert len(api_ids(record)) == 1  # the API request that left the queue never ran


BAD_BODIES = [
    ('{"prompt": "x", "max_tokens": Infinity}', "Infinity"),
    ('{"prompt": "x", "max_tokens": 1e400}', "too large"),
    ('{"prompt": "x", "temperature": NaN}', "NaN"),
    ('{"prompt": "x", "top_p": -Infinity}', "Infinity"),
    ('{"prompt": "x", "seed": ' + str(2**70) + "}", "seed"),
    ('{"prompt": "x", "extra": ' + "[" * 5000 + "1" + "]" * 5000 + "}", "nested too deeply"),
    ('{"prompt": "x", "max_tokens": true}', "max_tokens: must be a number"),
    ('{"prompt": "x", "max_tokens": "16"}', "max_tokens: must be a number"),
    ('{"prompt": "x", "max_tokens": 16.5}', "max_tokens: must be a whole number"),
    ('{"prompt": "x", "max_tokens": -1}', "max_tokens: must be between"),
    ('{"prompt": "x", "temperature": 3}', "temperature: must be between"),
    ('{"prompt": "x", "top_p": 0}', "top_p: must be between"),
    ('{"prompt": "x", "n": 2}', "n: only 1"),
    ('{"prompt": "x", "n": true}', "must be a number"),
    ('{"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}', "stop: up to 4"),
    ('{"prompt": "x", "stop": ["' + "z" * 101 + '"]}', "stop: up to 4"),
    ('{"prompt": "x", "model": ["tiny-test-v1"]}', "model: give"),
    ('{"prompt": "' + "y" * 200_001 + '"}', "prompt: at most"),
    ('{"prompt": "x", "pad": "' + "p" * (2 * 1024 * 1024) + '"}', "larger than"),
    ("[1, 2]", "JSON object"),
    ("{nope", "not valid JSON"),
]


def test_bad_values_get_400_with_an_openai_style_error_never_a_500(model, tmp_path):
    stack, _ = recording_stack(tmp_path, delay=0.001)
    secret = new_secret()
    with stack as (server, _), httpx.Client(base_url=server.http_url, timeout=30) as client:
        answers = [
            client.post(
                "/v1/completions",
                content=body.encode(),
                headers={**headers(secret), "Content-Type": "application/json"},
            )
            for body, _ in BAD_BODIES
        ]
        good = client.post(
            "/v1/completions",
            headers=headers(secret),
            json={"model": "tiny-test-v1", "prompt": "x", "max_tokens": 2, "seed": 2**63},
        )
    for (body, expected), response in zip(BAD_BODIES, answers, strict=True):
        assert response.status_code == 400, (body[:80], response.status_code, response.text[:300])
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and expected in error["message"], (
            body[:80],
            error,
        )
    assert good.status_code == 200, good.text
