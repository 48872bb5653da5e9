import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from scripts_app.formats import FormatError, fdx, fountain
from scripts_app.formats.markup import plain_text
from scripts_app.formats.model import ElementType as T

from . import generate

SAMPLE_FDX = b"""<?xml version="1.0" encoding="UTF-8" standalone="no" ?>
<FinalDraft DocumentType="Script" Template="No" Version="4">
  <Content>
    <Paragraph Number="1" Type="Scene Heading">
      <SceneProperties Length="1/8" Page="1" Title=""/>
      <Text>INT. BANK - DAY</Text>
    </Paragraph>
    <Paragraph Type="Action">
      <Text>The vault is </Text><Text Style="Bold">open</Text><Text>. Price: 5*3.</Text>
    </Paragraph>
    <Paragraph Type="Shot"><Text>ANGLE ON THE DOOR</Text></Paragraph>
    <Paragraph Type="General"><Text>A general paragraph.</Text></Paragraph>
    <Paragraph Type="Character"><Text>EDWARD (V.O.)</Text></Paragraph>
    <Paragraph Type="Parenthetical"><Text>(quietly)</Text></Paragraph>
    <Paragraph Type="Dialogue"><Text Style="Italic+Underline">Now.</Text></Paragraph>
    <Paragraph Type="Lyrics"><Text>La la la</Text></Paragraph>
    <Paragraph>
      <DualDialogue>
        <Paragraph Type="Character"><Text>MAYA</Text></Paragraph>
        <Paragraph Type="Dialogue"><Text>Left.</Text></Paragraph>
        <Paragraph Type="Character"><Text>BENNY</Text></Paragraph>
        <Paragraph Type="Dialogue"><Text>Right.</Text></Paragraph>
      </DualDialogue>
    </Paragraph>
    <Paragraph Type="Transition"><Text>CUT TO:</Text></Paragraph>
    <Paragraph Type="Scene Heading" StartsNewPage="Yes"><Text>THE ROOF</Text></Paragraph>
    <Paragraph Alignment="Center" Type="Action"><Text>THE END</Text></Paragraph>
    <Paragraph Type="Transition"><Text>Fade out.</Text></Paragraph>
    <Paragraph Type="Action"><Text></Text></Paragraph>
  </Content>
  <TitlePage>
    <Content>
      <Paragraph Alignment="Center"><Text>THE HEIST</Text></Paragraph>
      <Paragraph Alignment="Center"><Text>Written by</Text></Paragraph>
      <Paragraph Alignment="Center"><Text>Ann Writer</Text></Paragraph>
      <Paragraph Alignment="Left"><Text>ann@example.com</Text></Paragraph>
    </Content>
  </TitlePage>
</FinalDraft>
"""


def body(script):
    return [(e.type, e.text) for e in script.elements if e.type is not T.BLANK]


def test_read_paragraph_types():
    script = fdx.loads(SAMPLE_FDX)
    assert body(script) == [
        (T.SCENE_HEADING, "INT. BANK - DAY"),
        (T.ACTION, "The vault is **open**. Price: 5\\*3."),
        (T.ACTION, "ANGLE ON THE DOOR"),
        (T.ACTION, "A general paragraph."),
        (T.CHARACTER, "EDWARD (V.O.)"),
        (T.PARENTHETICAL, "(quietly)"),
        (T.DIALOGUE, "_*Now.*_"),
        (T.LYRICS, "La la la"),
        (T.CHARACTER, "MAYA"),
        (T.DIALOGUE, "Left."),
        (T.CHARACTER, "BENNY"),
        (T.DIALOGUE, "Right."),
        (T.TRANSITION, "CUT TO:"),
        (T.PAGE_BREAK, ""),
        (T.SCENE_HEADING, "THE ROOF"),
        (T.CENTERED, "THE END"),
        (T.TRANSITION, "Fade out."),
    ]
    heading = script.elements[0]
    assert heading.scene_number == "1"
    benny = next(e for e in script.elements if e.text == "BENNY")
    assert benny.dual
    assert [(e.key, e.value) for e in script.title_page] == [
        ("Title", "THE HEIST"),
        ("Credit", "Written by"),
        ("Author", "Ann Writer"),
        ("Contact", "ann@example.com"),
    ]


def test_fdx_to_fountain_reads_back_the_same():
    script = fdx.loads(SAMPLE_FDX)
    text = fountain.dumps(script)
    # Elements that Fountain would misread are forced.
    assert ".THE ROOF" in text and ">Fade out." in text
    assert "BENNY ^" in text
    assert body(fountain.parse(text)) == body(script)


def _printable(script):
    """(type, printed text) of what FDX can carry."""
    keep = {T.SCENE_HEADING, T.ACTION, T.CHARACTER, T.DIALOGUE, T.PARENTHETICAL}
    keep |= {T.TRANSITION, T.LYRICS, T.CENTERED, T.PAGE_BREAK}
    return [
        (e.type, plain_text(e.text).strip(), e.scene_number, e.dual)
        for e in script.elements
        if e.type in keep
    ]


def test_feature_round_trip_through_fdx():
    script = generate.feature()
    back = fdx.loads(fdx.dumps(script))
    assert _printable(back) == _printable(script)
    # And FDX -> Fountain -> parse gives the same elements again.
    assert _printable(fountain.parse(fountain.dumps(back))) == _printable(script)
    assert back.title == script.title


def test_writer_drops_control_characters_and_escapes():
    script = fountain.parse("\nINT. A\x01 - DAY\n\nTom & <Jerry>\x0b.\n")
    data = fdx.dumps(script)
    assert b"&amp; &lt;Jerry&gt;" in data
    assert body(fdx.loads(data))[1] == (T.ACTION, "Tom & <Jerry>.")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&lol9;</Text></Paragraph></Content></FinalDraft>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&xxe;</Text></Paragraph></Content></FinalDraft>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE FinalDraft SYSTEM "http://example.com/evil.dtd">
<FinalDraft><Content/></FinalDraft>
"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_hostile_xml_is_refused(data):
    with pytest.raises(FormatError, match="not allowed"):
        fdx.loads(data)


@pytest.mark.parametrize(
    "data",
    [
        SAMPLE_FDX[: len(SAMPLE_FDX) // 2],  # truncated upload
        b"<FinalDraft><Content><Paragraph></Content></FinalDraft>",  # mismatched tag
        b"<?xml version='1.0'?>",
        b"not xml at all",
        b"",
    ],
)
def test_malformed_or_truncated_fdx(data):
    with pytest.raises(FormatError, match="damaged or incomplete"):
        fdx.loads(data)


def test_wrong_xml_document():
    with pytest.raises(FormatError, match="not a Final Draft"):
        fdx.loads(b"<html><body/></html>")
    with pytest.raises(FormatError, match="no script content"):
        fdx.loads(b"<FinalDraft/>")


def test_scene_number_on_scene_properties_is_read():
    data = (
        b'<FinalDraft><Content><Paragraph Type="Scene Heading">'
        b'<SceneProperties Number="7B"/><Text>INT. A - DAY</Text></Paragraph></Content></FinalDraft>'
    )
    assert fdx.loads(data).elements[0].scene_number == "7B"


# --- title page ----------------------------------------------------------------------------

FD12 = Path(__file__).parent / "final_draft_12.fdx"


def test_final_draft_12_title_page():
    """A file as Final Draft 12 writes it: the title page's HeaderAndFooter holds the
    page-number label ("Page #" DynamicLabel + "."), which is not title page text."""
    script = fdx.loads(FD12.read_bytes())
    assert [(e.key, e.value) for e in script.title_page] == [
        ("Title", "_**THE LIGHTHOUSE KEEPER**_"),
        ("Credit", "Written by"),
        ("Author", "Ann Lee & Bo Chen"),
        ("Source", 'Based on the novel "The Keeper"\nby Dee Park'),
        ("Draft date", "Revised draft - March 3, 2026"),
        (
            "Contact",
            "Ann Lee\nLee & Chen Pictures\n12 Harbour Road, Penzance\n+44 1736 555 0100\n"
            "ann@example.com",
        ),
        ("Copyright", "© 2026 Ann Lee and Bo Chen"),
    ]
    assert "Contact: ." not in fountain.dumps(script)
    assert body(script)[:3] == [
        (T.SCENE_HEADING, "INT. LIGHTHOUSE - NIGHT"),
        (T.ACTION, "Rain lashes the lamp room. MARA (40s) winds the clockwork."),
        (T.CHARACTER, "MARA"),
    ]
    assert [e.scene_number for e in script.elements if e.type is T.SCENE_HEADING] == ["1", "2"]


LABELS = b"""<FinalDraft><Content><Paragraph Type="Scene Heading"><Text>INT. A - DAY</Text>
</Paragraph></Content>
<TitlePage>
  <HeaderAndFooter HeaderVisible="Yes"><Header><Paragraph Alignment="Right">
    <DynamicLabel Type="Page #"/><Text>.</Text></Paragraph></Header>
    <Footer><Paragraph Alignment="Left"><Text>Footer words</Text></Paragraph></Footer>
  </HeaderAndFooter>
  <Paragraph Alignment="Center"><Text>STAND BY</Text></Paragraph>
  <Paragraph Alignment="Center"><Text>Story &amp; Screenplay by</Text></Paragraph>
  <Paragraph Alignment="Center"><Text>Bo Chen</Text></Paragraph>
  <Paragraph Alignment="Right"><Text>Page </Text><DynamicLabel Type="Page #"/><Text>.</Text></Paragraph>
  <Paragraph Alignment="Left"><Text>bo@example.com</Text></Paragraph>
</TitlePage></FinalDraft>"""


def test_labels_headers_and_footers_are_not_title_page_text():
    """Paragraphs straight under TitlePage are read (some tools write no Content), but
    never its HeaderAndFooter, nor a page-number label among them."""
    script = fdx.loads(LABELS)
    assert [(e.key, e.value) for e in script.title_page] == [
        ("Title", "STAND BY"),
        ("Credit", "Story & Screenplay by"),
        ("Author", "Bo Chen"),
        ("Contact", "bo@example.com"),
    ]


def test_title_page_written_as_final_draft_lays_it_out_and_reads_back():
    source = (
        "Title:\n    **BRICK & STEEL**\n    FULL RETIRED\nCredit: Written by\n"
        "Authors: Ann Lee & Bo Chen\nSource: Based on the play by Dee Park\n"
        "Draft date: 3/3/2026\nContact:\n    Ann Lee\n    555-0100\nCopyright: © 2026 Ann Lee\n"
        "Notes: Revised pages in blue\n\nINT. A - DAY\n\nGo.\n"
    )
    script = fountain.parse(source)
    data = fdx.dumps(script)
    root = ET.fromstring(data)
    paragraphs = root.findall("TitlePage/Content/Paragraph")
    placed = [
        (p.get("Alignment"), "".join(p.itertext()).strip())
        for p in paragraphs
        if "".join(p.itertext()).strip()
    ]
    assert placed == [
        ("Center", "BRICK & STEEL"),
        ("Center", "FULL RETIRED"),
        ("Center", "Written by"),
        ("Center", "Ann Lee & Bo Chen"),
        ("Center", "Based on the play by Dee Park"),
        ("Right", "3/3/2026"),
        ("Left", "Ann Lee"),
        ("Left", "555-0100"),
        ("Left", "© 2026 Ann Lee"),
        ("Left", "Revised pages in blue"),
    ]
    assert 50 <= len(paragraphs) <= 56  # one page: title a third down, contact at the foot
    back = fdx.loads(data)
    assert [(e.key, e.value) for e in back.title_page] == [
        ("Title", "**BRICK & STEEL**\nFULL RETIRED"),
        ("Credit", "Written by"),
        ("Author", "Ann Lee & Bo Chen"),
        ("Source", "Based on the play by Dee Park"),
        ("Draft date", "3/3/2026"),
        ("Contact", "Ann Lee\n555-0100"),
        ("Copyright", "© 2026 Ann Lee"),
        ("Notes", "Revised pages in blue"),
    ]


@pytest.mark.parametrize(
    "centered, expected",
    [
        (["THE HEIST", "", "Ann Writer"], [("Title", "THE HEIST"), ("Author", "Ann Writer")]),
        (
            ["THE HEIST", "Ann Writer", "Bo Writer"],
            [("Title", "THE HEIST"), ("Author", "Ann Writer\nBo Writer")],
        ),
        (
            ["HEIST", "", "Screenplay by", "", "Ann", "", "Story by", "Bo"],
            [
                ("Title", "HEIST"),
                ("Credit", "Screenplay by"),
                ("Author", "Ann\nStory by\nBo"),
            ],
        ),
        (
            ["HEIST", "by", "Ann", "based on the game"],
            [
                ("Title", "HEIST"),
                ("Credit", "by"),
                ("Author", "Ann"),
                ("Source", "based on the game"),
            ],
        ),
    ],
)
def test_centered_title_page_lines(centered, expected):
    paragraphs = "".join(
        f'<Paragraph Alignment="Center"><Text>{line}</Text></Paragraph>' for line in centered
    )
    data = (
        '<FinalDraft><Content><Paragraph Type="Scene Heading"><Text>INT. A</Text></Paragraph>'
        f"</Content><TitlePage><Content>{paragraphs}</Content></TitlePage></FinalDraft>"
    )
    assert [(e.key, e.value) for e in fdx.loads(data).title_page] == expected
