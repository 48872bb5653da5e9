import pytest

from generation.core.prompting import Prompt, format_document, format_prompt
from generation.core.tokenizer import SPECIAL_TOKENS, ScriptTokenizer

NASTY = [
    "",
    "plain ascii",
    "emoji 😀🎭👩‍👩‍👧 and flags 🇫🇷",
    "combining e\u0301 a\u0308 vs é ä (not normalized)",
    "dash — quote ’ “curly” …",
    "CJK 漢字 かな 한국어",
    "controls \x00\x01\x07\x1b[31m\x7f tab\tnewline\n crlf\r\n",
    "  leading and trailing spaces  ",
    "\ufeffBOM and U+FFFD \ufffd and surrogate-free astral 𝄞",
]


@pytest.mark.parametrize("text", NASTY)
def test_round_trip_exact(tok, text):
    assert tok.decode(tok.encode(text)) == text


def test_special_tokens_and_save_load(tok, tmp_path):
    assert [tok.tok.token_to_id(t) for t in SPECIAL_TOKENS] == list(range(6))
    tok.save(tmp_path)
    again = ScriptTokenizer.load(tmp_path / "tokenizer.json")
    assert again.encode("HAMLET\nWho's there? 😀") == tok.encode("HAMLET\nWho's there? 😀")
    assert again.vocab_size == tok.vocab_size


def test_token_bytes_concatenate_to_utf8(tok):
    text = "Ophelia’s 😀 song — 漢字"
    assert b"".join(tok.token_bytes[i] for i in tok.encode(text)) == text.encode()


def test_document_layout_and_mask(tok):
    doc = {
        "heading": "INT. CASTLE",
        "cast": ["HAMLET", "HORATIO"],
        "synopsis": "Ghost.",
        "text": "HAMLET\nHo!\n",
    }
    ids, mask = format_document(tok, doc)
    assert len(ids) == len(mask)
    prompt = format_prompt(tok, Prompt("INT. CASTLE", ("HAMLET", "HORATIO"), "Ghost."))
    assert ids[: len(prompt)] == prompt and prompt[-1] == tok.text_id
    assert sum(mask[: len(prompt)]) == 0 and all(mask[len(prompt) :])
    assert ids[-1] == tok.end_id
    assert tok.decode(ids[len(prompt) :]) == "HAMLET\nHo!\n"
    assert tok.decode(ids, skip_special=False).startswith(
        "<|heading|>INT. CASTLE<|cast|>HAMLET, HORATIO"
    )


def test_special_strings_in_user_text_are_not_control_tokens(tok):
    text = "He wrote <|end|> and <|text|>, then <|heading|>."
    ids = tok.encode(text)
    assert not set(ids) & tok.special_ids
    assert tok.decode(ids) == text
