"""A seeded random model of a named shape, with rows to train it on, for `alignkit estimate`'s accuracy check
(measure-peak.mjs): the estimate is compared with the peak RSS of real training runs on these.

    python scripts/estimate/make_shape.py --shape small|medium|qwen2.5-0.5b --out DIR [--rows R] [--seq L]

Shapes: small is scripts/bench's ~20M Llama (vocab 32000, untied); medium a ~124M Llama (vocab 32000, hidden 768,
12 layers, untied); qwen2.5-0.5b a Qwen2 with Qwen2.5-0.5B's config (494M, vocab 151936, tied, q/k/v biases).
Writes DIR/model (float32 safetensors, the llama2-metaspace fixture tokenizer beside it: its ids are < 32000, valid
for every shape) and DIR/train.jsonl: R preference rows, a ~0.4 L-token prompt, a chosen completion that runs past
max_length L (truncated: every batch is L tokens long) and a ~0.3 L-token rejected one (so batches are padded, as
real preference data is). Prints {modelDir, dataPath, params} as JSON.
"""

import argparse
import json
import random
import shutil
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "test" / "fixtures" / "tokenizers" / "llama2-metaspace"

SHAPES = {
    "small": (LlamaConfig, LlamaForCausalLM, dict(vocab_size=32000, hidden_size=256, intermediate_size=1024,
                                                  num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                                                  tie_word_embeddings=False)),
    "medium": (LlamaConfig, LlamaForCausalLM, dict(vocab_size=32000, hidden_size=768, intermediate_size=2048,
                                                   num_hidden_layers=12, num_attention_heads=12, num_key_value_heads=4,
                                                   tie_word_embeddings=False)),
    # Qwen/Qwen2.5-0.5B's config.json values.
    "qwen2.5-0.5b": (Qwen2Config, Qwen2ForCausalLM, dict(vocab_size=151936, hidden_size=896, intermediate_size=4864,
                                                         num_hidden_layers=24, num_attention_heads=14,
                                                         num_key_value_heads=2, tie_word_embeddings=True,
                                                         rope_theta=1000000.0, rms_norm_eps=1e-6,
                                                         max_window_layers=24, use_sliding_window=False)),
}

WORDS = (
    "the of and to in is that it for on with as was be by this are from at or an have not but they which one you "
    "model training data loss gradient batch token sequence learning rate optimizer weight layer attention network"
).split()

p = argparse.ArgumentParser()
p.add_argument("--shape", choices=sorted(SHAPES), required=True)
p.add_argument("--out", required=True)
p.add_argument("--rows", type=int, default=8)
p.add_argument("--seq", type=int, default=512)
args = p.parse_args()

out = Path(args.out)
model_dir = out / "model"
config_class, model_class, shape = SHAPES[args.shape]
torch.manual_seed(0)
config = config_class(max_position_embeddings=max(args.seq, 2048), bos_token_id=1, eos_token_id=2, **shape)
model = model_class(config).to(torch.float32)
model.save_pretrained(model_dir)
for f in TOKENIZER.iterdir():
    shutil.copy(f, model_dir / f.name)

# The fixture tokenizer (959 pieces) makes about 3.3 tokens of each of these words.
rng = random.Random(1234)
text = lambda tokens: " ".join(rng.choice(WORDS) for _ in range(max(1, round(tokens / 3.3))))  # noqa: E731
data_path = out / "train.jsonl"
with open(data_path, "w") as f:
    for _ in range(args.rows):
        f.write(json.dumps({"prompt": text(0.4 * args.seq), "chosen": " " + text(args.seq), "rejected": " " + text(0.3 * args.seq)}) + "\n")
print(json.dumps({"modelDir": str(model_dir), "dataPath": str(data_path), "params": sum(t.numel() for t in model.parameters())}))
