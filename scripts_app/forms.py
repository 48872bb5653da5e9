"""Forms: shape and size checks of raw input. Rules that involve the database live in
services.py, which raise ValidationError; views put those errors on the form."""

from django import forms

from .models import Role


class ProjectForm(forms.Form):
    title = forms.CharField(max_length=200)
    logline = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    genre = forms.CharField(max_length=100, required=False)
    notes = forms.CharField(
        max_length=20_000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )


class LinesField(forms.CharField):
    """A text field whose line ends count once (browsers send CRLF) against its limit."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if value else value


def _lines(rows: int) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class ProjectSettingsForm(ProjectForm):
    allow_training = forms.BooleanField(
        required=False,
        label="Let the team's model train on this project's text and feedback",
    )
    auto_contd = forms.BooleanField(
        required=False,
        label="Add (CONT'D) automatically",
        help_text="In PDF and HTML exports, when a character speaks again "
        "after action in the same scene.",
    )
    # The title page (credits.py); the title is the project's title above.
    credit = forms.CharField(
        max_length=100,
        required=False,
        label="Credit line",
        help_text="Printed above the writers' names: Written by, Screenplay by, Teleplay by…",
    )
    authors = LinesField(
        max_length=500,
        required=False,
        label="Writers",
        help_text="As the names should read on the title page: one per line, or joined "
        "with “&” for a writing team.",
        widget=_lines(2),
    )
    based_on = LinesField(
        max_length=500,
        required=False,
        label="Based on",
        help_text="The source material, if any: “Based on the novel by Jane Doe”.",
        widget=_lines(2),
    )
    draft_date = forms.CharField(
        max_length=100,
        required=False,
        label="Draft date",
        help_text="As it should read: “Second draft, March 3, 2026”.",
    )
    contact = LinesField(
        max_length=1000,
        required=False,
        label="Contact",
        help_text="Printed at the bottom left: name or representation, address, phone, email.",
        widget=_lines(4),
    )
    copyright = forms.CharField(
        max_length=200,
        required=False,
        label="Copyright",
        help_text="Optional: “© 2026 Ann Lee” or a registration number.",
    )
    title_page_notes = LinesField(
        max_length=1000,
        required=False,
        label="Title page notes",
        help_text="Optional: anything else for the title page, such as “Revised pages in blue”.",
        widget=_lines(2),
    )

    PROJECT_FIELDS = ("title", "logline", "genre", "notes", "allow_training", "auto_contd")

    def project_fields(self):
        return [self[name] for name in self.PROJECT_FIELDS]

    def title_page_fields(self):
        return [self[name] for name in self.fields if name not in self.PROJECT_FIELDS]


class ProjectDeleteForm(forms.Form):
    confirm_title = forms.CharField(max_length=200, label="Type the project's title to confirm")


class MemberAddForm(forms.Form):
    who = forms.CharField(max_length=254, label="Username or email")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class CharacterForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(
        max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    notes = forms.CharField(
        max_length=20_000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    tags = forms.CharField(
        label="Tags for reports",
        max_length=1000,
        required=False,
        help_text=(
            "One per line, like “gender: woman”. Coverage shows who gets the dialogue by "
            "each tag; nothing is ever guessed."
        ),
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "gender: woman"}),
    )

    MAX_TAGS = 10

    def clean_tags(self) -> dict:
        tags: dict[str, str] = {}
        for n, line in enumerate(self.cleaned_data.get("tags", "").splitlines(), 1):
            if not line.strip():
                continue
            key, sep, value = line.partition(":")
            key, value = " ".join(key.split()).lower(), " ".join(value.split())
            if not sep or not key or not value:
                raise forms.ValidationError(f"Line {n}: write a tag as “name: value”.")
            if len(key) > 30 or len(value) > 60:
                raise forms.ValidationError(
                    f"Line {n}: a tag's name is at most 30 characters, its value 60."
                )
            tags[key] = value
        if len(tags) > self.MAX_TAGS:
            raise forms.ValidationError(f"At most {self.MAX_TAGS} tags.")
        return tags


def tags_text(tags: dict) -> str:
    """A character's tags as the form shows them."""
    return "\n".join(f"{k}: {v}" for k, v in (tags or {}).items())


class SceneForm(forms.Form):
    heading = forms.CharField(
        max_length=200, widget=forms.TextInput(attrs={"placeholder": "INT. STATION - NIGHT"})
    )
    synopsis = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    # Checkboxes, one per character: the template lays them out in a fieldset. (A bare
    # select's options rendered one by one showed no control at all, and saving the form
    # then emptied the cast.)
    cast = forms.TypedMultipleChoiceField(
        coerce=int, required=False, choices=(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, characters=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cast"].choices = [(c.pk, c.name) for c in characters]


class SceneTextForm(forms.Form):
    # The size limit is enforced, with a clear message, by services.validate_scene_text;
    # the request body itself is bounded by DATA_UPLOAD_MAX_MEMORY_SIZE.
    text = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "true"}),
    )
    base_revision = forms.IntegerField(required=False, widget=forms.HiddenInput)
    label = forms.CharField(max_length=120, required=False)


class SceneReorderForm(forms.Form):
    order = forms.CharField(
        max_length=100_000, help_text="Scene ids in the new order, comma-separated"
    )

    def clean_order(self):
        raw = self.cleaned_data["order"]
        try:
            return [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError("The new order must list scene ids.") from None


class SceneMoveForm(forms.Form):
    to = forms.IntegerField(min_value=1, label="Move to number")
