"""Submit a page's form as a browser would: read the HTML, collect its successful controls.

Tests that post hand-written dictionaries cannot see a form that renders a field wrongly
(an option outside any select, a checkbox without a name): a browser would submit
nothing for it and the server would take that as "empty". This reads the form the page
actually shows, so "load the page, submit it unchanged" must change nothing.
"""

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    # Every named control the form shows, submitted or not (e.g. unchecked boxes).
    controls: dict[str, list[dict]] = field(default_factory=dict)

    def data(self) -> dict[str, list[str]]:
        """The submitted fields as the test client takes them (name -> values)."""
        out: dict[str, list[str]] = {}
        for name, value in self.fields:
            out.setdefault(name, []).append(value)
        return out


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.select: dict | None = None  # name, multiple, options [(value, selected)]
        self.option: dict | None = None
        self.textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.form = Form(action=a.get("action", ""), method=(a.get("method") or "get").lower())
            self.forms.append(self.form)
            return
        if self.form is None:
            return
        name = a.get("name")
        if tag == "input" and name and "disabled" not in a:
            kind = (a.get("type") or "text").lower()
            self.form.controls.setdefault(name, []).append({"type": kind, **a})
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.form.fields.append((name, a.get("value", "on")))
            elif kind not in ("submit", "button", "reset", "image", "file"):
                self.form.fields.append((name, a.get("value", "")))
        elif tag == "textarea" and name and "disabled" not in a:
            self.textarea = {"name": name, "text": ""}
            self.form.controls.setdefault(name, []).append({"type": "textarea", **a})
        elif tag == "select" and name and "disabled" not in a:
            self.select = {"name": name, "multiple": "multiple" in a, "options": []}
            self.form.controls.setdefault(name, []).append({"type": "select", **a})
        elif tag == "option" and self.select is not None:
            self.option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
            self.select["options"].append(self.option)

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea["text"] += data
        if self.option is not None:
            self.option["text"] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self.textarea is not None and self.form is not None:
            text = self.textarea["text"]
            # The HTML parser keeps the newline that browsers drop after <textarea>.
            if text.startswith("\n"):
                text = text[1:]
            self.form.fields.append((self.textarea["name"], text))
            self.textarea = None
        elif tag == "option":
            self.option = None
        elif tag == "select" and self.select is not None and self.form is not None:
            options = self.select["options"]
            chosen = [o for o in options if o["selected"]]
            if not chosen and not self.select["multiple"] and options:
                chosen = options[:1]  # a single select submits its first option
            for o in chosen:
                value = o["value"] if o["value"] is not None else o["text"].strip()
                self.form.fields.append((self.select["name"], value))
            self.select = None
        elif tag == "form":
            self.form = None


def forms_in(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def form_posting_to(html: str, action: str, page_url: str | None = None) -> Form:
    """The one form on the page whose action is ``action`` (no action: the page's URL)."""
    found = [f for f in forms_in(html) if (f.action or page_url) == action]
    assert len(found) == 1, f"{len(found)} forms post to {action}"
    return found[0]
