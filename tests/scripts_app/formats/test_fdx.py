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
