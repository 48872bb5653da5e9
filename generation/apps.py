from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self):
        # The writers' room shows the model's panels without importing this app.
        from scripts_app import panels

        from .views import chapter, drafts, reading, story

        panels.register("scene_side", "drafts", drafts.scene_panel)
        panels.register("project_side", "model", drafts.project_panel)
        panels.register("story_side", "story-drafts", story.story_panel)
        panels.register("coverage_side", "reading", reading.coverage_panel)
        panels.register("book_side", "chapter-drafts", chapter.book_panel)
