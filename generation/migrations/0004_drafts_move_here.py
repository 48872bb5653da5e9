"""Drafts, passages and the feedback on them move to this app (state only).

The tables stay where they are until 0005 renames them; scripts_app 0007 drops the
models from the writers' room's state. No row is touched.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0003_retraining_access"),
        ("scripts_app", "0006_rename_passage_settings"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='FeedbackTag',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=40)),
                        ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='feedback_tags', to='scripts_app.project')),
                    ],
                    options={
                        'db_table': 'scripts_app_feedbacktag',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='Passage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('group', models.UUIDField(db_index=True)),
                        ('alternative', models.PositiveSmallIntegerField(default=0)),
                        ('alternatives', models.PositiveSmallIntegerField(default=1)),
                        ('task', models.CharField(choices=[('new', 'Write the scene'), ('continue', 'Continue from the end'), ('rewrite', 'Rewrite the selection')], max_length=16)),
                        ('instruction', models.TextField(blank=True, max_length=2000)),
                        ('sampling', models.JSONField(default=dict)),
                        ('selection_start', models.PositiveIntegerField(blank=True, null=True)),
                        ('selection_end', models.PositiveIntegerField(blank=True, null=True)),
                        ('selection_text', models.TextField(blank=True)),
                        ('prompt', models.JSONField(default=dict)),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('streaming', 'Streaming'), ('done', 'Done'), ('cancelled', 'Cancelled'), ('failed', 'Failed')], db_index=True, default='queued', max_length=16)),
                        ('text', models.TextField(blank=True)),
                        ('seq', models.PositiveIntegerField(default=0)),
                        ('token_count', models.PositiveIntegerField(default=0)),
                        ('finish_reason', models.CharField(blank=True, max_length=20)),
                        ('error', models.TextField(blank=True)),
                        ('cancel_requested', models.BooleanField(default=False)),
                        ('worker', models.CharField(blank=True, max_length=100)),
                        ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                        ('queued_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('first_token_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('model_version', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='passages', to='generation.modelversion')),
                        ('requested_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('scene', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='passages', to='scripts_app.scene')),
                    ],
                    options={
                        'db_table': 'scripts_app_passage',
                        'ordering': ['-queued_at', 'group', 'alternative'],
                    },
                ),
                migrations.CreateModel(
                    name='PassageComment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('body', models.TextField(max_length=5000)),
                        ('anchor_start', models.PositiveIntegerField(blank=True, null=True)),
                        ('anchor_end', models.PositiveIntegerField(blank=True, null=True)),
                        ('resolved_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('parent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='replies', to='generation.passagecomment')),
                        ('passage', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='comments', to='generation.passage')),
                        ('resolved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'scripts_app_passagecomment',
                        'ordering': ['created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='Preference',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('chosen_text', models.TextField(blank=True)),
                        ('source', models.CharField(choices=[('pick', 'Picked as best'), ('rank', 'Ranked higher'), ('accept', 'Accepted into the scene'), ('edit', 'Edited after acceptance')], max_length=10)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('chosen', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='preferences_won', to='generation.passage')),
                        ('rejected', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='preferences_lost', to='generation.passage')),
                        ('user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={'db_table': 'scripts_app_preference'},
                ),
                migrations.CreateModel(
                    name='Rating',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('score', models.PositiveSmallIntegerField()),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('passage', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='ratings', to='generation.passage')),
                        ('tags', models.ManyToManyField(blank=True, related_name='ratings', to='generation.feedbacktag')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={'db_table': 'scripts_app_rating'},
                ),
                migrations.AddConstraint(
                    model_name='feedbacktag',
                    constraint=models.UniqueConstraint(fields=('project', 'name'), name='feedback_tag_unique'),
                ),
                migrations.AddIndex(
                    model_name='passage',
                    index=models.Index(fields=['scene', '-queued_at'], name='scripts_app_scene_i_c5bebd_idx'),
                ),
                migrations.AddConstraint(
                    model_name='passage',
                    constraint=models.UniqueConstraint(fields=('group', 'alternative'), name='passage_alternative_unique'),
                ),
                migrations.AddConstraint(
                    model_name='passagecomment',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('anchor_end__isnull', True), ('anchor_start__isnull', True)), models.Q(('anchor_end__gt', models.F('anchor_start')), ('anchor_end__isnull', False), ('anchor_start__isnull', False)), _connector='OR'), name='comment_anchor_valid'),
                ),
                migrations.AddConstraint(
                    model_name='preference',
                    constraint=models.CheckConstraint(condition=models.Q(('chosen__isnull', False), models.Q(('chosen_text', ''), _negated=True), _connector='OR'), name='preference_has_chosen'),
                ),
                migrations.AddConstraint(
                    model_name='preference',
                    constraint=models.CheckConstraint(condition=models.Q(('chosen', models.F('rejected')), _negated=True), name='preference_distinct'),
                ),
                migrations.AddConstraint(
                    model_name='preference',
                    constraint=models.UniqueConstraint(condition=models.Q(('chosen__isnull', False)), fields=('user', 'chosen', 'rejected', 'source'), name='preference_unique'),
                ),
                migrations.AddConstraint(
                    model_name='rating',
                    constraint=models.UniqueConstraint(fields=('passage', 'user'), name='rating_one_per_user'),
                ),
                migrations.AddConstraint(
                    model_name='rating',
                    constraint=models.CheckConstraint(condition=models.Q(('score__gte', 1), ('score__lte', 5)), name='rating_score_range'),
                ),
            ],
        ),
    ]
