"""Corpus sources that need Django: the scenes of projects that allow training, and the
Final Draft reader (the screenplay formats live in scripts_app.formats)."""

from generation.core.corpus import make_document, read_fountain
from scripts_app.formats import fdx, fountain
from scripts_app.models import Scene


def fdx_reader(text: str, name: str) -> list[dict]:
    """Read a Final Draft file into corpus documents, through its Fountain form."""
    return read_fountain(fountain.dumps(fdx.loads(text)), name)


def project_documents() -> list[dict]:
    """Return one document per scene of every project whose owners allow training."""
    scenes = (
        Scene.objects.filter(project__allow_training=True)
        .exclude(text="")
        .select_related("project")
        .prefetch_related("cast")
        .defer("doc_state")
        .order_by("project_id", "position")
    )
    return [
        make_document(
            heading=scene.heading,
            cast=[c.name for c in scene.cast.all()],
            synopsis=scene.synopsis,
            text=scene.text,
            source=f"project:{scene.project_id}/scene:{scene.pk}",
            group=f"project:{scene.project_id}",
        )
        for scene in scenes
    ]
