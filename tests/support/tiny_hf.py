"""A tiny randomly initialised Llama-architecture model and tokenizer, built locally.

``build_tiny_llama(folder, chat_template)`` writes a Hugging Face folder
(``save_pretrained``: config, weights, tokenizer) that ``HFBackend`` and
``AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)`` load; nothing is
downloaded. The tokenizer is a byte-level BPE trained on a few hundred words of
screenplay text, with ``<s>``/``</s>``/``<pad>`` as bos/eos/pad. With a ``chat_template``
(a Jinja string) the tokenizer carries it, as an instruction-tuned model's does. Builds in
well under a second on one CPU core; the weights are seeded, so a folder is reproducible.
"""

from __future__ import annotations

from pathlib import Path

SPECIALS = ["<s>", "</s>", "<pad>"]

SIMPLE_CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

_WORDS = """
INT. CASTLE - NIGHT. EXT. BEACH - DAY. HAMLET enters, alone, and looks out at the sea.
HAMLET: Who's there? HORATIO: Friend to this ground. The ghost walks on the platform at
midnight; the guards are afraid and will not speak. She opens the door and the wind comes
in. He sits at the table, writes a letter, tears it up. MIRANDA: Oh, I have suffered with
those that I saw suffer. PROSPERO: Be collected; no more amazement. The storm breaks over
the island and the ship splits on the rocks. They run down the stairs, laughing, then
stop. A phone rings in the empty office. Rain. Thunder. The lights go out. CUT TO: the
kitchen, morning, coffee, an argument about money and a promise nobody kept. Write the
scene. Continue the scene from where the text stops. Write the missing passage. Scene
heading, cast, brief, text so far, text after the passage to write, system, user,
assistant, story, logline, characters, beats, act, want, need, flaw, arc, voice.
"""


def _train_tokenizer(vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    text = _WORDS * 3
    tk.train_from_iterator([text, text.lower(), text.upper()], trainer=trainer)
    return tk


def build_tiny_llama(folder, chat_template: str | None = None, *, vocab_size: int = 512, seed=0):
    """Write a tiny Llama model + tokenizer to ``folder``; return ``(model, tokenizer)``."""
    import torch
    import transformers

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(vocab_size),
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
    )
    if chat_template is not None:
        fast.chat_template = chat_template
    fast.save_pretrained(folder)
    cfg = transformers.LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(cfg).eval()
    model.save_pretrained(folder)
    return model, fast
