"""The story recipe: character slots, derived briefs, instructions, fill in the middle."""

import random

import pytest
import torch

from generation.core import instructions, recipe
from generation.core.engine import Engine
from generation.core.model import GPT, GPTConfig
from generation.core.params import SamplingParams
from generation.core.prompting import SUFFIX_TOKENS, Prompt, fit_prompt, format_prompt
from generation.core.tokenizer import ScriptTokenizer

from .conftest import SAMPLE_TEXTS

SCENE = {
    "heading": "INT. ELSINORE - A ROOM IN THE CASTLE",
    "cast": ["HAMLET", "HORATIO"],
    "synopsis": "Hamlet, Act I, Scene 2.",
    "text": (
        "HAMLET\nWhere is Horatio? The ghost walks tonight upon the platform.\n\n"
        "HORATIO\nHere, my lord. I saw the ghost, Hamlet; HAMLET's father.\n\n"
        "FIRST LORD\nMy lord, the king calls for you.\n\n"
        "HAMLET\nTell the king I come. The platform, Horatio, at midnight.\n\n"
        "HORATIO\nI will watch with you, my lord.\n\n"
        "HAMLET\nThe ghost, the platform, the midnight bell.\n\n"
        "Hamlet draws his sword and follows the ghost.\n"
    ),
}


@pytest.fixture(scope="module")
def stok() -> ScriptTokenizer:
    return ScriptTokenizer.train([*SAMPLE_TEXTS, SCENE["text"]], vocab_size=420, story=True)


def test_story_tokenizer_has_slots_and_old_ones_load_without(stok, tok):
    assert stok.has_slots and len(stok.slot_ids) == 12 and stok.suffix_id is not None
    assert not tok.has_slots and tok.slot_ids == [] and tok.suffix_id is None
    # A user's literal slot token stays text (no control meaning), round trip exact.
    assert stok.decode(stok.encode("say <|c1|> and <|suffix|>")) == "say <|c1|> and <|suffix|>"
    assert not set(stok.encode("<|c1|>")) & set(stok.slot_ids)


def test_slots_rename_consistently_cues_and_mentions():
    slots = recipe.CastSlots(["HAMLET", "HORATIO"])
    out = slots.slotify(SCENE["text"])
    h, o = recipe.mark(1), recipe.mark(2)
    assert out.startswith(f"{h}\nWhere is {o}?")
    assert f"I saw the ghost, {h}; {h}'s father." in out  # title and upper case, possessive
    assert "FIRST LORD" in out  # a walk-on keeps its name
    assert "Hamlet" not in out and "HORATIO" not in out
    assert slots.render(1, True) == "HAMLET" and slots.render(1, False) == "Hamlet"
    # lower-case words are words, not names
    assert recipe.CastSlots(["KING"]).slotify("the king and the King") == f"the king and the {h}"


def test_user_text_cannot_forge_a_slot():
    slots = recipe.CastSlots(["CLAIRE"])
    assert slots.slotify(f"x{recipe.mark(3)}y") == "x\ufffdy"


def test_slot_order_puts_who_already_speaks_first():
    text = "JUNE\nHi.\n\nMARCUS\nHey.\n"
    assert recipe.slot_order(["Claire", "June", "", "june"], text) == ["June", "Claire"]
    assert recipe.slot_order([f"N{i}" for i in range(20)]) == [f"N{i}" for i in range(12)]


def test_extras_are_walk_ons():
    assert recipe.is_extra("FIRST LORD") and recipe.is_extra("ALL") and recipe.is_extra("Messenger")
    assert not recipe.is_extra("HAMLET") and not recipe.is_extra("LADY MACBETH")


def test_derived_brief_rule():
    brief = recipe.derive_brief(SCENE["text"])
    assert brief.startswith("Hamlet and Horatio talk about ghost, platform")
    assert brief.endswith("It ends: Hamlet draws his sword and follows the ghost.")
    one = recipe.derive_brief("CLAIRE\nThe house is sold. The house!\n")
    assert one == "Claire alone, about house and sold. Claire has the last word."
    assert recipe.derive_brief("") == ""


def _example(stok, seed, block=512):
    scene = recipe.prepare_scene(stok, SCENE)
    return scene, recipe.make_example(stok, scene, random.Random(seed), block)


def test_examples_fit_mask_the_text_and_never_spell_a_cast_name(stok):
    for seed in range(60):
        scene, (ids, mask) = _example(stok, seed, block=128)
        assert len(ids) == len(mask) <= 129
        assert ids[0] == stok.heading_id
        text_at = ids.index(stok.text_id)
        assert not any(mask[: text_at + 1]) and all(mask[text_at + 1 :])
        cast = ids[ids.index(stok.cast_id) + 1 : ids.index(stok.synopsis_id)]
        assert [t for t in cast if t in stok.slot_ids] == stok.slot_ids[:2]
        text = stok.decode(ids)
        assert "HAMLET" not in text and "Horatio" not in text and "Hamlet" not in text


def test_instructions_in_examples_are_true_of_their_text(stok):
    seen = set()
    for seed in range(300):
        scene, (ids, _) = _example(stok, seed)
        syn = ids[ids.index(stok.synopsis_id) + 1 : ids.index(stok.text_id)]
        if stok.suffix_id in ids:
            continue  # fill in the middle: checked below
        slot_names = {t: n for t, n in zip(stok.slot_ids, scene.slots.names, strict=False)}
        real = "".join(slot_names.get(t, "") if t in slot_names else stok.decode([t]) for t in syn)
        body = ids[ids.index(stok.text_id) + 1 :]
        text = "".join(slot_names.get(t) or stok.decode([t]) for t in body)
        for kind, value in instructions.parse(real):
            seen.add(kind)
            if kind in ("lines", "transition") and body[-1] != stok.end_id:
                pytest.fail("a length or ending instruction needs the scene's end")
            assert instructions.check(kind, value, text), (kind, value, text)
    assert seen == {"speakers", "word", "lines", "transition"}


def test_fill_in_the_middle_layout(stok):
    found = 0
    for seed in range(200):
        _, (ids, mask) = _example(stok, seed)
        if stok.suffix_id not in ids:
            continue
        found += 1
        s, t = ids.index(stok.suffix_id), ids.index(stok.text_id)
        assert ids.index(stok.synopsis_id) < s < t
        assert not any(mask[: t + 1]) and all(mask[t + 1 :])
        assert ids[-1] == stok.end_id and len(ids[s + 1 : t]) <= SUFFIX_TOKENS
    assert found >= 10


def test_eval_sequences_cover_the_text_once(stok):
    scene = recipe.prepare_scene(stok, SCENE)
    for block in (64, 128, 512):
        seqs = recipe.eval_sequences(stok, [scene], block)
        assert all(len(ids) <= block + 1 for ids, _, _ in seqs)
        # every element is predicted once (one longer than the room: its start only)
        total = sum(b for _, _, b in seqs)
        assert total <= len(SCENE["text"].encode())
        if block >= 128:
            assert total == len(SCENE["text"].encode())
            assert seqs[-1][0][-1] == stok.end_id


def test_story_prompt_layout(stok):
    p = Prompt(
        "INT. DINER - NIGHT",
        ("CLAIRE", "JUNE"),
        "June wants to sell.",
        "JUNE\nWe sell it.\n\n",
        "CLAIRE\nNo.\n",
    )
    ids = format_prompt(stok, p)
    june, claire = stok.slot_ids[:2]  # June speaks first in the text: slot 1
    cast = ids[ids.index(stok.cast_id) + 1 : ids.index(stok.synopsis_id)]
    assert cast[0] == june and cast[-1] == claire
    assert ids.index(stok.synopsis_id) < ids.index(stok.suffix_id) < ids.index(stok.text_id)
    after = ids[ids.index(stok.text_id) + 1 :]
    assert after[0] == june and claire not in after
    # An older tokenizer reads the first layout (names as text, no suffix).
    assert Prompt.from_dict(p.as_dict()) == p


def test_fit_prompt_caps_the_text_after_the_selection(stok, tok):
    long_after = "".join(f"CLAIRE\nLine {i} of what follows.\n\n" for i in range(80))
    kw = dict(heading="INT. X", cast=("CLAIRE",), brief=[], text_prefix="A", budget=400)
    fitted = fit_prompt(stok, text_suffix=long_after, **kw)
    assert long_after.startswith(fitted.prompt.text_suffix) and fitted.prompt.text_suffix
    assert len(stok.encode(fitted.prompt.text_suffix)) <= SUFFIX_TOKENS
    assert "end of the text after the selection" in fitted.dropped
    assert fit_prompt(tok, text_suffix=long_after, **kw).prompt.text_suffix == ""


class _Slots(torch.nn.Module):
    """A model that always wants a slot: the first unassigned one most, then the cast's."""

    def __init__(self, inner, stok):
        super().__init__()
        self.inner, self.cfg = inner, inner.cfg
        bias = torch.zeros(inner.cfg.vocab_size)
        bias[stok.slot_ids[5]] = 12.0  # nobody's slot
        bias[stok.slot_ids[:2]] = 8.0
        bias[stok.encode("\n")[0]] = 7.0
        self.register_buffer("bias", bias)

    def forward_step(self, *args):
        return self.inner.forward_step(*args) + self.bias


def test_engine_writes_slots_as_names_and_never_samples_an_empty_slot(stok):
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=stok.vocab_size, block_size=96, n_layer=1, n_head=2, n_embd=32)
    model = _Slots(GPT(cfg).eval(), stok)
    model.parameters = model.inner.parameters
    engine = Engine.from_tokenizer(model, stok, max_batch=4)
    p = Prompt("INT. DINER - NIGHT", ("CLAIRE", "June"), "")
    outs = engine.generate(
        [format_prompt(stok, p)] * 4,
        [SamplingParams(max_new_tokens=30, temperature=1.0, seed=s) for s in range(4)],
        [p] * 4,
    )
    for o in outs:
        assert stok.slot_ids[5] not in o.token_ids
        assert set(o.token_ids) & set(stok.slot_ids[:2])
        for line in o.text.split("\n"):
            for word in ("Claire", "CLAIRE", "June", "JUNE"):
                assert word not in line or line.startswith(("CLAIRE", "JUNE")) or word.istitle()
        assert "CLAIRE" in o.text or "JUNE" in o.text
