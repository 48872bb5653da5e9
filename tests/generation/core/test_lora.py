"""LoRA retraining of a Hugging Face model (``generation/core/lora.py``) and serving it.

Every model is a tiny random Llama built in a temporary folder
(``tests/support/tiny_hf.py``); nothing is downloaded. The round's data has a systematic
preference (the chosen completion ends with "Thunder.", the rejected one with
"Coffee."), so a few dozen seeded steps learn it on held-out prompts.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from generation.core.backends.base import BackendError, GenerationRequest  # noqa: E402
from generation.core.backends.hf import HFBackend, prompt_ids, render_prompt  # noqa: E402
from generation.core.chat import chat_messages  # noqa: E402
from generation.core.examples import PreferencePair, SFTExample  # noqa: E402
from generation.core.lora import (  # noqa: E402
    LoraError,
    LoraRound,
    encode_hf_example,
    export_adapter,
    lora_round,
    main,
)
from generation.core.params import SamplingParams  # noqa: E402
from generation.core.prompting import Prompt, prompt_text  # noqa: E402

LINES = [
    "Who's there?",
    "Friend to this ground.",
    "The ghost walks.",
    "She opens the door.",
    "He sits at the table.",
    "A phone rings.",
    "Rain on the window.",
    "The lights go out.",
    "They run down the stairs.",
    "Be collected.",
    "The ship splits.",
    "No more amazement.",
]


def _prompt(i: int) -> Prompt:
    return Prompt(
        heading="INT. CASTLE - NIGHT",
        cast=("HAMLET",),
        synopsis=f"Beat {i}.",
        text_prefix=LINES[i % len(LINES)] + "\n",
    )


def _pair(i: int, who: str = "HAMLET") -> PreferencePair:
    line = LINES[(i + 3) % len(LINES)]
    return PreferencePair(_prompt(i), f"{who}\n{line} Thunder.\n", f"{who}\n{line} Coffee.\n")


SFT = [SFTExample(_prompt(i), f"HAMLET\n{LINES[(i + 1) % 12]} Thunder.\n") for i in range(8)]
PAIRS = [_pair(i) for i in range(8)]
HELDOUT = [_pair(i, "HORATIO") for i in range(8, 12)]
CFG = LoraRound(
    sft_steps=20, dpo_steps=20, batch_size=4, lr_sft=1e-2, lr_dpo=1e-2, seed=0, device="cpu"
)


def _hash_dir(folder) -> dict[str, str]:
    return {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.iterdir())
        if f.is_file()
    }


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    from tests.support.tiny_hf import SIMPLE_CHAT_TEMPLATE, build_tiny_llama

    chat = tmp_path_factory.mktemp("base-chat")
    plain = tmp_path_factory.mktemp("base-plain")
    build_tiny_llama(chat, SIMPLE_CHAT_TEMPLATE)
    build_tiny_llama(plain, None)
    return chat, plain


@pytest.fixture(scope="module")
def round_(bases, tmp_path_factory):
    """One round on the chat base: (base, out, metrics, base hashes before)."""
    base = bases[0]
    before = _hash_dir(base)
    out = tmp_path_factory.mktemp("lora-v1")
    events: list[dict] = []
    metrics = lora_round(base, out, SFT, PAIRS, HELDOUT, CFG, progress_cb=events.append)
    assert events and events[-1]["event"] == "done"
    return base, out, metrics, before


def test_round_learns_preference_and_saves_small_adapter(round_):
    base, out, m, _ = round_
    assert (out / "adapter_config.json").is_file()
    assert (out / "adapter_model.safetensors").is_file()
    saved = json.loads((out / "lora_round.json").read_text())
    assert saved == json.loads(json.dumps(m))
    conf = json.loads((out / "adapter_config.json").read_text())
    assert conf["base_model_name_or_path"] == str(base.resolve()) == m["base_dir"]
    assert sorted(conf["target_modules"]) == ["k_proj", "o_proj", "q_proj", "v_proj"]
    assert m["adapter_bytes"] == (out / "adapter_model.safetensors").stat().st_size
    assert m["adapter_bytes"] * 5 < m["base_bytes"]
    # Before: the adapter at init is the base, every pair ties (chance level).
    assert m["pref_accuracy_before"] == 0.5 and m["reward_margin_before"] == 0.0
    assert m["pref_accuracy_after"] >= m["pref_accuracy_before"]
    assert m["pref_accuracy_after"] == 1.0
    assert m["reward_margin_after"] > m["reward_margin_before"]
    assert m["sft_loss_last"] < m["sft_loss_first"]
    assert m["steps"] == {"sft": 20, "dpo": 20} and m["pairs"] == 8 and m["skipped"] == 0
    print(
        f"\nlora round: {m['seconds']:.1f}s, adapter {m['adapter_bytes']} B vs base "
        f"{m['base_bytes']} B, pref_accuracy {m['pref_accuracy_before']} -> "
        f"{m['pref_accuracy_after']}, margin {m['reward_margin_after']:.3f}"
    )


def test_base_weights_untouched(round_):
    base, _, _, before = round_
    assert _hash_dir(base) == before


def test_round_is_deterministic(bases, tmp_path):
    cfg = LoraRound(sft_steps=2, dpo_steps=2, batch_size=4, lr_sft=1e-2, lr_dpo=1e-2, seed=3)
    cfg.device = "cpu"
    a = lora_round(bases[1], tmp_path / "a", SFT[:4], PAIRS[:4], [], cfg)
    b = lora_round(bases[1], tmp_path / "b", SFT[:4], PAIRS[:4], [], cfg)
    assert a["pref_accuracy_after"] is None  # no held-out pairs
    wa = (tmp_path / "a" / "adapter_model.safetensors").read_bytes()
    assert wa == (tmp_path / "b" / "adapter_model.safetensors").read_bytes()
    assert a["sft_loss_last"] == b["sft_loss_last"]


def _next_logits(be: HFBackend, prompt: Prompt) -> torch.Tensor:
    ids, _ = be._encode(prompt)
    with torch.no_grad():
        return be.model(input_ids=ids).logits[0, -1]


def test_backend_serves_base_plus_adapter(round_, tmp_path):
    base, out, _, _ = round_
    be = HFBackend(str(out), device="cpu")
    assert be.adapter_dir == str(out) and be.uses_chat
    assert not hasattr(be.model, "disable_adapter")  # merged: a plain transformers model
    bare = HFBackend(str(base), device="cpu")
    assert bare.adapter_dir is None
    p = HELDOUT[0].prompt
    assert not torch.allclose(_next_logits(be, p), _next_logits(bare, p))
    r = be.generate(
        GenerationRequest(prompt=p, params=SamplingParams(max_new_tokens=5, temperature=0))
    )
    assert r.finish_reason in ("stop", "length") and r.completion_tokens <= 5
    assert r.sent == {"messages": chat_messages(p)}

    # The base folder moved: base_dir says where it is now.
    moved = tmp_path / "v"
    moved.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(out / name, moved / name)
    conf = json.loads((moved / "adapter_config.json").read_text())
    conf["base_model_name_or_path"] = str(tmp_path / "gone")
    (moved / "adapter_config.json").write_text(json.dumps(conf))
    with pytest.raises(BackendError, match="base_dir"):
        HFBackend(str(moved), device="cpu")
    again = HFBackend(str(moved), device="cpu", base_dir=str(base))
    assert torch.allclose(_next_logits(again, p), _next_logits(be, p))


def test_backend_without_peft_says_so(round_, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # `import peft` raises ImportError
    with pytest.raises(BackendError, match="peft"):
        HFBackend(str(round_[1]), device="cpu")


def test_export_adapter_for_vllm(round_, tmp_path):
    out = export_adapter(round_[1], tmp_path / "vllm" / "team")
    assert sorted(f.name for f in out.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    with pytest.raises(LoraError, match="not a LoRA version"):
        export_adapter(tmp_path, tmp_path / "x")


def test_training_prompt_is_what_the_backend_sends(bases):
    p = _prompt(2)
    chat = HFBackend(str(bases[0]), device="cpu")
    rendered = render_prompt(chat.tokenizer, p)
    assert rendered == chat.tokenizer.apply_chat_template(
        chat_messages(p), add_generation_prompt=True, tokenize=False
    )
    assert rendered.endswith("<|assistant|>")
    sent_ids, _ = chat._encode(p)
    ids, n = encode_hf_example(chat.tokenizer, p, "HAMLET\nHi.\n", max_len=4096)
    assert ids[:-n] == sent_ids[0].tolist() == prompt_ids(chat.tokenizer, p)
    assert ids[-1] == chat.tokenizer.eos_token_id

    plain = HFBackend(str(bases[1]), device="cpu")
    assert render_prompt(plain.tokenizer, p) == prompt_text(p)
    sent_ids, sent = plain._encode(p)
    assert sent == {"prompt": prompt_text(p)}
    ids, n = encode_hf_example(plain.tokenizer, p, "HAMLET\nHi.\n", max_len=4096)
    assert ids[:-n] == sent_ids[0].tolist()
    # A long prompt is cut from the left; a completion that cannot fit is skipped.
    ids, n = encode_hf_example(plain.tokenizer, p, "Hi.", max_len=8)
    assert len(ids) == 8 and n < 8
    assert encode_hf_example(plain.tokenizer, p, "word " * 50, max_len=8) is None


def test_empty_data_is_an_error(bases, tmp_path):
    with pytest.raises(LoraError, match="no accepted or well-rated drafts to learn from"):
        lora_round(bases[0], tmp_path / "out", [], [], HELDOUT, CFG)
    assert not (tmp_path / "out").exists()


def test_missing_base_is_an_error(tmp_path):
    with pytest.raises(LoraError, match="cannot be loaded.*keeps serving"):
        lora_round(tmp_path / "nope", tmp_path / "out", SFT, PAIRS, [], CFG)


def test_out_of_memory_is_an_error(bases, tmp_path, monkeypatch):
    import transformers

    def oom(self, *a, **kw):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(transformers.LlamaForCausalLM, "forward", oom)
    with pytest.raises(LoraError) as e:
        lora_round(bases[0], tmp_path / "out", SFT, PAIRS, HELDOUT, CFG)
    msg = str(e.value)
    assert "does not fit in memory on this machine" in msg and "keeps serving" in msg
    assert not (tmp_path / "out").exists()


def test_cli_on_an_export(bases, tmp_path, capsys):
    data = tmp_path / "export"
    data.mkdir()

    def write(name, records):
        (data / name).write_text("".join(json.dumps(r) + "\n" for r in records))

    write(
        "sft.jsonl",
        [
            {"prompt": "x", "completion": e.completion, "prompt_fields": e.prompt.as_dict()}
            for e in SFT[:4]
        ],
    )
    pref = [
        {
            "prompt": "x",
            "chosen": p.chosen,
            "rejected": p.rejected,
            "prompt_fields": p.prompt.as_dict(),
        }
        for p in PAIRS[:4]
    ]
    write("preference.jsonl", pref)
    write("preference.heldout.jsonl", pref[:2])
    out = tmp_path / "v2"
    argv = ["--base", str(bases[1]), "--out", str(out), "--data", str(data)]
    argv += ["--sft-steps", "2", "--dpo-steps", "2", "--rank", "4", "--device", "cpu"]
    assert main(argv) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["steps"] == {"sft": 2, "dpo": 2} and m["pairs"] == 4 and m["heldout_pairs"] == 2
    assert m["settings"]["rank"] == 4
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 4

    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["--base", str(bases[1]), "--out", str(tmp_path / "v3"), "--data", str(empty)]
    assert main(argv) == 1
    assert "no accepted or well-rated drafts" in capsys.readouterr().err
