"""The co-editing update log writer: one batched write for many sockets' keystrokes."""

import asyncio
import weakref

from channels.db import database_sync_to_async
from django.db import transaction

from ..models import Membership, Role, Scene, SceneUpdate


def _accept_updates(batch: list[tuple[int, int, int, bytes]]) -> list[Role | None]:
    """Re-check each sender's role and log the editors' updates, in one transaction.

    ``batch`` holds (user_id, project_id, scene_id, update); return each sender's role
    (None: not a member, or the scene is not in that project). Three queries whatever
    the batch size.
    """
    scene_ids = {scene_id for _, _, scene_id, _ in batch}
    scene_project = dict(Scene.objects.filter(pk__in=scene_ids).values_list("pk", "project_id"))
    roles = {
        (user_id, project_id): Role(role)
        for user_id, project_id, role in Membership.objects.filter(
            user_id__in={u for u, _, _, _ in batch}, project_id__in=set(scene_project.values())
        ).values_list("user_id", "project_id", "role")
    }
    results, rows = [], []
    for user_id, project_id, scene_id, data in batch:
        role = (
            roles.get((user_id, project_id)) if scene_project.get(scene_id) == project_id else None
        )
        results.append(role)
        if role is not None and role.at_least(Role.EDITOR):
            rows.append(SceneUpdate(scene_id=scene_id, data=data, user_id=user_id))
    with transaction.atomic():
        SceneUpdate.objects.bulk_create(rows)
    return results


class UpdateLogWriter:
    """Writes the updates that this process's sockets accept, in batches.

    Each update still counts as saved only once its row is committed (the socket awaits
    that before relaying it), but the updates that arrive while one batch is being written
    go together in the next: one thread hop and three queries for many keystrokes, so a
    burst of typing by many editors does not queue up behind one write each. There is no
    timer: a lone keystroke is written at once.
    """

    _by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @classmethod
    def for_running_loop(cls) -> "UpdateLogWriter":
        loop = asyncio.get_running_loop()
        writer = cls._by_loop.get(loop)
        if writer is None:
            writer = cls._by_loop[loop] = cls()
        return writer

    def __init__(self):
        self.pending: list[tuple[tuple, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def append(
        self, user_id: int, project_id: int, scene_id: int, data: bytes
    ) -> Role | None:
        future = asyncio.get_running_loop().create_future()
        self.pending.append(((user_id, project_id, scene_id, data), future))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                roles = await database_sync_to_async(_accept_updates)([item for item, _ in batch])
            except Exception as exc:  # the database is unreachable: every sender hears of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), role in zip(batch, roles, strict=True):
                if not future.done():
                    future.set_result(role)
