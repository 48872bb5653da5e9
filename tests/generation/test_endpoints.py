"""Models as records (``generation/endpoints.py``): staff add a Hugging Face folder or an
OpenAI-compatible server, check it, switch it off; a project owner picks which model writes
the project's drafts; the worker runs each passage on its model's own slots and records
which model wrote it. The end-to-end test points a record at the app's own ``/v1`` (a real
OpenAI-compatible server) and another at an address nobody answers."""

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from generation import endpoints
from generation.drafts import draft_request, draft_spec_from
from generation.models import ModelEndpoint, Passage, ProjectModelChoice
from scripts_app import services
from scripts_app.models import Membership, Role
from tests.conftest import make_user
from tests.support.models import register_tiny_version


class _Server(BaseHTTPRequestHandler):
    """A chat model server: streams a fixed scene, or answers 500 for model "broken"."""

    seen: list = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, self.headers.get("Authorization"), body))
        if body.get("model") == "broken":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"out of memory")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ["MARA\n", "We stay. ", "All of us."]:
            chunk = {"choices": [{"delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def server():
    _Server.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def openai_record(base_url, **extra):
    fields = {"name": "Box", "kind": "openai", "base_url": base_url, "model_name": "qwen"}
    return endpoints.endpoint_create(user=None, **{**fields, **extra})


# --- the record's rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"base_url": "ftp://box/v1"}, "http(s)://host"),
        ({"base_url": "javascript:alert(1)"}, "http(s)://host"),
        ({"base_url": "http://user:pw@box/v1"}, "http(s)://host"),
        ({"base_url": "http://box/v1?x=1"}, "http(s)://host"),
        ({"model_name": ""}, "as the server knows it"),
        ({"api_key_env": "sk-live-1234"}, "not the key itself"),
        ({"api_key_env": "1KEY"}, "not the key itself"),
        ({"max_streams": "0"}, "between 1 and 64"),
        ({"timeout_s": "9999"}, "between 1 and 600"),
        ({"timeout_s": "soon"}, "are numbers"),
        ({"kind": "shell"}, "Choose a Hugging Face folder"),
        ({"name": ""}, "Give the model a name"),
    ],
)
def test_a_bad_record_is_refused_with_a_clear_message(db, fields, message):
    base = {"name": "Box", "kind": "openai", "base_url": "http://box:8000/v1", "model_name": "m"}
    with pytest.raises(ValidationError) as exc:
        endpoints.endpoint_create(user=None, **{**base, **fields})
    assert message in " ".join(exc.value.messages)
    assert not ModelEndpoint.objects.exists()


def test_a_folder_must_exist_here(db, settings, tmp_path):
    settings.MODEL_DIR = tmp_path
    with pytest.raises(ValidationError, match="no folder"):
        endpoints.endpoint_create(user=None, name="Local", kind="hf", folder="nope")
    (tmp_path / "qwen").mkdir()
    record = endpoints.endpoint_create(user=None, name="Local", kind="hf", folder="qwen")
    assert record.folder == "qwen" and record.base_url == "" and record.chat == "auto"


def test_the_check_measures_a_server_and_says_why_one_fails(db, server, monkeypatch):
    monkeypatch.setenv("BOX_KEY", "secret-123")
    record = openai_record(server, api_key_env="BOX_KEY")
    checked = endpoints.endpoint_check(record.pk)
    assert checked.healthy is True and checked.health_error == ""
    assert checked.tokens_per_s > 0 and checked.ttft_s is not None
    path, auth, body = _Server.seen[-1]
    assert path == "/v1/chat/completions" and auth == "Bearer secret-123"
    assert body["messages"][0]["role"] == "system" and body["max_tokens"] == 24
    broken = openai_record(server, name="Broken", model_name="broken")
    checked = endpoints.endpoint_check(broken.pk)
    assert checked.healthy is False and "500" in checked.health_error
    dead = openai_record("http://127.0.0.1:9/v1", name="Dead", timeout_s=2)
    checked = endpoints.endpoint_check(dead.pk)
    assert checked.healthy is False and checked.health_error


# --- who may do what ---------------------------------------------------------------------------


def test_only_staff_add_check_and_switch_models(team, client, server, monkeypatch):
    from generation import tasks

    # The check runs where long jobs run (inline embedded; a training worker with Redis):
    # here, inline either way.
    monkeypatch.setattr(tasks.check_endpoint, "delay", tasks.check_endpoint)
    add = reverse("endpoint_add")
    data = {"name": "Box", "kind": "openai", "base_url": server, "model_name": "qwen"}
    client.force_login(team.users["owner"])
    assert client.post(add, data).status_code == 403
    assert not ModelEndpoint.objects.exists()
    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    response = client.post(add, data)
    assert response.status_code == 302
    record = ModelEndpoint.objects.get()
    assert record.healthy is True  # checked at once
    page = client.get(reverse("model_list")).content.decode()
    assert "Box" in page and "tokens/s" in page and server in page
    client.force_login(team.users["owner"])
    page = client.get(reverse("model_list")).content.decode()
    assert "Box" in page and server not in page  # where it lives: staff only
    dead = openai_record("http://10.9.8.7:9/v1", name="Dead", timeout_s=1)
    endpoints.endpoint_check(dead.pk)
    page = client.get(reverse("model_list")).content.decode()
    assert "Dead" in page and "10.9.8.7" not in page  # nor why it fails
    assert (
        client.post(reverse("endpoint_enable", args=[record.pk]), {"enabled": "0"}).status_code
        == 403
    )
    client.force_login(staff)
    client.post(reverse("endpoint_enable", args=[record.pk]), {"enabled": "0"})
    record.refresh_from_db()
    assert record.enabled is False


def test_an_owner_picks_the_projects_model_and_drafts_record_it(
    team, client, server, settings, tmp_path
):
    settings.MODEL_DIR = tmp_path / "models"
    register_tiny_version(settings.MODEL_DIR)
    record = openai_record(server)
    url = reverse("project_model", args=[team.project.pk])
    for who, code in (("outsider", 404), ("editor", 403), ("viewer", 403)):
        client.force_login(team.users[who])
        assert client.post(url, {"endpoint": str(record.pk)}).status_code == code, who
    assert not ProjectModelChoice.objects.exists()
    client.force_login(team.users["owner"])
    assert client.post(url, {"endpoint": "99999"}).status_code == 302  # refused, said
    assert not ProjectModelChoice.objects.exists()
    client.post(url, {"endpoint": str(record.pk)})
    assert endpoints.project_endpoint(team.project.pk) == record
    page = client.get(team.project.get_absolute_url()).content.decode()
    assert "written by <strong>Box</strong>" in page

    scene = team.scenes[0]
    passages = draft_request(
        scene=scene, user=team.users["editor"], spec=draft_spec_from({"mode": "new"})
    )
    p = passages[0]
    assert p.endpoint_id == record.pk and p.model_version_id is None
    assert p.model_record == {
        "kind": "openai",
        "name": "Box",
        "chat": "chat",
        "base_url": server,
        "model": "qwen",
    }
    assert p.model_label == "Box"
    # Switched off: the project's drafts are refused with the reason, nothing queued.
    endpoints.endpoint_set_enabled(endpoint=record, enabled=False)
    with pytest.raises(ValidationError, match="switched off"):
        draft_request(scene=scene, user=team.users["editor"], spec=draft_spec_from({"mode": "new"}))
    assert Passage.objects.count() == 1
    client.post(url, {"endpoint": "house"})
    assert endpoints.project_endpoint(team.project.pk) is None


# --- the worker, end to end ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_each_project_drafts_with_its_model_and_a_dead_one_fails_alone(team, settings, tmp_path):
    """Three projects: one on the house model, one on a record pointing at this very app's
    ``/v1`` (an OpenAI-compatible server, with an API token from the environment), one on
    a record nobody answers. The dead one fails with its reason; the others finish."""
    from generation.api import token_create
    from tests.support.roomclient import RoomClient
    from tests.support.servers import generation_stack, session_for
    from tests.support.threads import run_async

    settings.MODEL_DIR = tmp_path / "models"
    version = register_tiny_version(settings.MODEL_DIR)
    owner = team.users["owner"]
    _, secret = token_create(user=owner, name="self")
    env = {"COWRITE_SELF_KEY": secret}

    def project_with_scene(title):
        project = services.project_create(user=owner, title=title)
        Membership.objects.filter(project=project, user=owner).update(role=Role.OWNER)
        scene = services.scene_create(
            project=project, user=owner, heading="INT. DECK - NIGHT", text="Alarms.\n"
        )
        return project, scene

    house_scene = team.scenes[0]
    relay_project, relay_scene = project_with_scene("Relay")
    dead_project, dead_scene = project_with_scene("Dead")

    with generation_stack(env=env) as (server, _):
        relay = endpoints.endpoint_create(
            user=None,
            name="Self",
            kind="openai",
            base_url=f"{server.http_url}/v1",
            model_name=version.name,
            api_key_env="COWRITE_SELF_KEY",
            chat="completion",
            timeout_s=60,
        )
        dead = endpoints.endpoint_create(
            user=None,
            name="Nobody",
            kind="openai",
            base_url="http://127.0.0.1:9/v1",
            model_name="x",
            timeout_s=3,
        )
        endpoints.project_choose_endpoint(project=relay_project, endpoint_id=relay.pk)
        endpoints.project_choose_endpoint(project=dead_project, endpoint_id=dead.pk)

        async def ask(project, scene):
            room = RoomClient(
                server.ws_url, project.pk, scene.pk, session_for(owner), server.http_url
            )
            await room.connect()
            await asyncio.sleep(0.3)
            # Seeded: a random tiny model may open with its end token or a stop sequence,
            # and a draft would then be rightly "done" and empty.
            await room.request_draft(task="new", max_new_tokens=12, alternatives=1, seed=7)
            return room

        async def run():
            rooms = [
                await ask(dead_project, dead_scene),
                await ask(relay_project, relay_scene),
                await ask(team.project, house_scene),
            ]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            while loop.time() < deadline:
                done = await asyncio.to_thread(
                    lambda: Passage.objects.filter(status__in=("done", "failed")).count()
                )
                if done >= 3:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)
            for room in rooms:
                await room.close()
            return rooms

        rooms = run_async(run())

    dead_p = Passage.objects.get(scene=dead_scene)
    relay_p = Passage.objects.get(scene=relay_scene)
    house_p = Passage.objects.get(scene=house_scene)
    assert dead_p.status == "failed" and "127.0.0.1:9" in dead_p.error
    assert rooms[0].cards.get(dead_p.pk) == "failed"
    assert house_p.status == "done", house_p.error
    assert house_p.model_version_id is not None
    assert relay_p.status == "done", relay_p.error
    assert relay_p.status == "done" and relay_p.text.strip()
    assert relay_p.model_record["name"] == "Self" and relay_p.model_version_id is None
    # What the record's backend sent is kept with the prompt: the plain completion prompt.
    assert relay_p.prompt["sent"]["prompt"].startswith("INT. DECK - NIGHT")
    assert rooms[1].streamed_text(relay_p.pk) == relay_p.text


def test_a_draft_asked_of_a_deleted_model_fails_instead_of_going_to_the_house_model(team, server):
    from generation.worker import GenerationWorker, LoadedBackend

    record = openai_record(server)
    endpoints.project_choose_endpoint(project=team.project, endpoint_id=record.pk)
    passage = draft_request(
        scene=team.scenes[0], user=team.users["editor"], spec=draft_spec_from({"mode": "new"})
    )[0]
    record.delete()
    passage.refresh_from_db()
    assert passage.endpoint_id is None and passage.model_record["name"] == "Box"
    worker = GenerationWorker(name="test")
    job = worker._claim(passage.pk, LoadedBackend(None, object()), None)
    assert job.done and job.error == "Box was deleted before this draft started; ask again."
