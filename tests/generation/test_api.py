"""The OpenAI-compatible API, through the official ``openai`` client, against a real server
and a real generation worker (in-process in the embedded pass, separate with Redis)."""

import openai
import pytest
from django.urls import reverse

from generation.api import token_create
from generation.models import ApiToken
from tests.support.models import register_tiny_version
from tests.support.servers import generation_stack

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def stack(settings, tmp_path, db):
    settings.MODEL_DIR = tmp_path / "models"
    register_tiny_version(settings.MODEL_DIR)
    with generation_stack() as (server, _):
        yield server


@pytest.fixture
def secret(db):
    from tests.conftest import make_user

    _, secret = token_create(user=make_user("apiuser"), name="tests")
    return secret


def client_for(server, key):
    return openai.OpenAI(base_url=f"{server.http_url}/v1", api_key=key, max_retries=0, timeout=60)


def test_models_and_completions_streaming_and_not(stack, secret):
    client = client_for(stack, secret)
    models = client.models.list()
    assert [m.id for m in models.data] == ["tiny-test-v1"]

    prompt = "INT. STATION - NIGHT\n\nMARA\n"
    full = client.completions.create(
        model="tiny-test-v1", prompt=prompt, max_tokens=24, temperature=0.7, seed=42
    )
    choice = full.choices[0]
    assert choice.finish_reason in ("length", "stop") and full.usage.completion_tokens <= 24
    assert full.model == "tiny-test-v1" and full.id.startswith("cmpl-")

    stream = client.completions.create(
        model="tiny-test-v1", prompt=prompt, max_tokens=24, temperature=0.7, seed=42, stream=True
    )
    chunks = list(stream)
    assert len(chunks) >= 2 and chunks[-1].choices[0].finish_reason in ("length", "stop")
    # Same seed, same settings, same model: the same text, streamed or not.
    assert "".join(c.choices[0].text for c in chunks) == choice.text
    # Usage at the end of a stream, when asked (OpenAI's stream_options.include_usage).
    chunks = list(
        client.completions.create(
            model="tiny-test-v1",
            prompt=prompt,
            max_tokens=24,
            temperature=0.7,
            seed=42,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage == full.usage
    assert all(c.usage is None for c in chunks[:-1])
    assert "".join(c.choices[0].text for c in chunks[:-1]) == choice.text
    with pytest.raises(openai.BadRequestError, match="only with stream"):
        client.completions.create(
            model="tiny-test-v1", prompt=prompt, stream_options={"include_usage": True}
        )
    assert ApiToken.objects.get().last_used_at is not None


def test_bad_tokens_and_bad_requests_get_openai_style_errors(stack, secret):
    with pytest.raises(openai.AuthenticationError):
        client_for(stack, "cw-not-a-token").models.list()
    row = ApiToken.objects.get()
    row.revoked_at = row.created_at
    row.save()
    with pytest.raises(openai.AuthenticationError):
        client_for(stack, secret).completions.create(model="tiny-test-v1", prompt="x", max_tokens=2)
    _, fresh = token_create(user=row.user, name="again")
    client = client_for(stack, fresh)
    with pytest.raises(openai.NotFoundError, match="not served"):
        client.completions.create(model="gpt-4", prompt="x", max_tokens=2)
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client.completions.create(model="tiny-test-v1", prompt="x", max_tokens=100_000)
    with pytest.raises(openai.BadRequestError, match="n: only 1"):
        client.completions.create(model="tiny-test-v1", prompt="x", max_tokens=2, n=3)


def test_token_page_makes_shows_once_and_revokes(client, db):
    from tests.conftest import make_user

    alice, bob = make_user("alice"), make_user("bob")
    client.force_login(alice)
    body = client.post(reverse("api_tokens"), {"name": "plugin"}).content.decode()
    token = ApiToken.objects.get(user=alice)
    assert token.prefix in body and "copy it now" in body
    assert token.key_hash not in body
    assert "copy it now" not in client.get(reverse("api_tokens")).content.decode()
    client.force_login(bob)  # bob cannot revoke alice's token
    client.post(reverse("api_tokens"), {"revoke": str(token.pk)})
    client.post(reverse("api_tokens"), {"revoke": "nonsense"})
    token.refresh_from_db()
    assert token.revoked_at is None
    client.force_login(alice)
    client.post(reverse("api_tokens"), {"revoke": str(token.pk)})
    token.refresh_from_db()
    assert token.revoked_at is not None
