"""The story layer's pages: the story page (bible, characters overview, plotlines) and
the character page's story fields and relationships (``views_story.py``). The beat
board's routes are in ``urls_board.py``."""

from django.urls import path

from . import views_story as views

P = "projects/<int:project_id>/"
C = P + "characters/<int:character_id>/"

urlpatterns = [
    path(P + "story/", views.story_page, name="story_page"),
    path(P + "story/bible/<str:name>/", views.story_bible_field, name="story_bible_field"),
    path(P + "story/bible/<str:name>/save/", views.story_bible_save, name="story_bible_save"),
    path(P + "story/characters/", views.story_characters, name="story_characters"),
    path(P + "story/plotlines/", views.story_plotlines, name="story_plotlines"),
    path(P + "story/plotlines/new/", views.plotline_create, name="plotline_create"),
    path(P + "story/plotlines/<int:plotline_id>/", views.plotline_update, name="plotline_update"),
    path(P + "story/plotlines/<int:plotline_id>/move/", views.plotline_move, name="plotline_move"),
    path(
        P + "story/plotlines/<int:plotline_id>/delete/",
        views.plotline_delete,
        name="plotline_delete",
    ),
    path(C + "story/<str:name>/", views.character_story_field, name="character_story_field"),
    path(C + "story/<str:name>/save/", views.character_story_save, name="character_story_save"),
    path(C + "relations/", views.character_relations, name="character_relations"),
    path(C + "relations/new/", views.relation_create, name="relation_create"),
    path(C + "relations/<int:relation_id>/delete/", views.relation_delete, name="relation_delete"),
]
