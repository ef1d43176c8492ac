"""TRL side of `npm run bench:dpo`, `bench:sft` and `bench:kto` (driven by train.mjs).

    python scripts/bench/train_trl.py --trainer dpo|sft|kto --out DIR --threads N [--steps K] [--rows R] [--batch B]
                                      [--seq L] [--device cpu|cuda] [--bf16] [--lora] [--shape NAME]
                                      [--gradient-checkpointing] [--settings JSON] [--data-only | --prepared]

1. Creates a seeded random ~20M-parameter LlamaForCausalLM (the same shape as forward_torch.py: vocab 32000,
   hidden 256, 4 layers, 4 heads / 2 kv heads, intermediate 1024, untied) and saves it to DIR/model (float32,
   safetensors), with the llama2-metaspace fixture tokenizer copied beside it (no tokenizer covering 32000 ids
   is available offline; this one's ids are all < 32000, so they are valid for the model).
2. Writes R seeded rows to DIR/train.jsonl: preference rows (prompt/chosen/rejected) for dpo, prompt/completion
   rows for sft, prompt/completion/label rows (labels alternating) for kto; each prompt + completion tokenizes to
   a little over L tokens, so with max_length L every sequence is exactly L tokens.
3. Trains K steps with TRL's DPOTrainer or KTOTrainer (model=DIR/model, ref_model=None: TRL loads the reference
   from the same folder) or SFTTrainer, fp32 (or bf16 autocast with --bf16), on the CPU (or the GPU with --device
   cuda), gradient_checkpointing off (TRL's fastest setting), B pairs (dpo) or rows (sft, kto) per step, and
   prints one JSON line on stdout: per-step end times (step 1 excluded from the rate by the node side), losses,
   peak memory.
   With --lora the trainer gets a peft_config (LORA below: TRL's ModelConfig defaults r 16, alpha 32, dropout 0.05,
   on all-linear); DPO then has no reference model: its reference is the policy with adapters disabled.
With --shape NAME (bench_shapes.py: qwen2.5-0.5b, llama3.2-1b, llama3-8b) the model is a random one of that real
shape instead, with a word-level tokenizer covering its whole vocabulary (every word one token, so the rows are
exactly --seq tokens of ids drawn over the vocabulary). --gradient-checkpointing turns TRL's checkpointing on,
--settings adds DPOConfig keys (a row's extra settings), --data-only writes the model and rows and prints their paths
(and the shape's dimensions), --prepared trains on what an earlier --data-only run wrote into --out.
Progress and library warnings go to stderr.
"""

import argparse
import json
import os
import random
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "test" / "fixtures" / "tokenizers" / "llama2-metaspace"

p = argparse.ArgumentParser()
p.add_argument("--trainer", choices=["dpo", "sft", "kto"], required=True)
p.add_argument("--out", required=True)
p.add_argument("--threads", type=int, required=True)
p.add_argument("--steps", type=int, default=6)
p.add_argument("--rows", type=int, default=40)
p.add_argument("--batch", type=int, default=4)
p.add_argument("--seq", type=int, default=512)
p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
p.add_argument("--bf16", action="store_true")
p.add_argument("--lora", action="store_true")
p.add_argument("--shape", default="toy")
p.add_argument("--gradient-checkpointing", action="store_true")
p.add_argument("--settings", default="{}", help="extra DPOConfig/SFTConfig/KTOConfig keys, as JSON")
p.add_argument("--data-only", action="store_true", help="write the model, tokenizer and rows, print their paths, train nothing")
p.add_argument("--prepared", action="store_true", help="train on the model and rows a --data-only run wrote into --out")
args = p.parse_args()

import torch  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
import datasets  # noqa: E402
from datasets import load_dataset  # noqa: E402
from transformers import AutoTokenizer, PreTrainedTokenizerFast, TrainerCallback  # noqa: E402
from bench_llama import save_bench_llama  # noqa: E402
from bench_shapes import SHAPES, save_shape_model, save_word_tokenizer, shape_dims  # noqa: E402
from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer, SFTConfig, SFTTrainer  # noqa: E402

# The LoRA config of --lora; train.mjs passes alignkit the same values as use_peft, lora_r, ... (keep in step).
LORA = dict(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")

transformers.utils.logging.disable_progress_bar()
datasets.disable_progress_bars()
transformers.utils.logging.set_verbosity_error()
torch.set_num_threads(args.threads)
out = Path(args.out)
model_dir = out / "model"

shaped = args.shape != "toy"
if shaped and args.shape not in SHAPES:
    sys.exit(f"--shape must be toy or one of {', '.join(SHAPES)}, got {args.shape}")
data_path = out / "train.jsonl"

# --- model + tokenizer (not timed); the trainers load the model (DPO: and the reference) from the folder ---
if args.prepared:
    n_params = json.loads((out / "prepared.json").read_text())["params"]
elif shaped:
    model_dir.mkdir(parents=True, exist_ok=True)
    special_ids = save_word_tokenizer(model_dir, SHAPES[args.shape]["vocab_size"])
    n_params = save_shape_model(model_dir, args.shape, **special_ids)
else:
    _, n_params = save_bench_llama(model_dir, args.seq, bos_token_id=1, eos_token_id=2)
    for f in TOKENIZER.iterdir():
        shutil.copy(f, model_dir / f.name)
# The shapes' word-level tokenizer is loaded as what it is: AutoTokenizer would pick the model type's class
# (Qwen2Tokenizer, a BPE without merges) and drop every word.
tokenizer = (PreTrainedTokenizerFast if shaped else AutoTokenizer).from_pretrained(model_dir)

# --- data (not timed): prompt ~40% of the sequence, each completion brings it a little over --seq tokens ---
WORDS = (
    "the of and to in is that it for on with as was be by this are from at or an have not but they which one you "
    "all were her his can there we been has when their will would what if more so about out up into do than them "
    "model training data loss gradient batch token sequence learning rate optimizer weight layer attention network "
    "function value result example question answer policy reference reward preference chosen rejected prompt "
    "response assistant system python library version error message memory compute performance benchmark"
).split()
rng = random.Random(1234)


def text_of(n_tokens):
    """Seeded words, trimmed so the text tokenizes (no special tokens) to about n_tokens."""
    if shaped:  # word-level: one word, one token, ids over the whole vocabulary (0-3 are the special tokens)
        return " ".join(f"w{rng.randrange(4, len(tokenizer))}" for _ in range(n_tokens))
    words = [rng.choice(WORDS) for _ in range(n_tokens)]
    while len(tokenizer(" ".join(words), add_special_tokens=False).input_ids) > n_tokens:
        words.pop()
    return " ".join(words)


prompt_len = int(args.seq * 0.4)
completion_len = args.seq - prompt_len + 16  # truncated by max_length: every sequence is exactly --seq tokens
if not args.prepared:
    with open(data_path, "w") as f:
        for i in range(args.rows):
            completions = {"chosen": " " + text_of(completion_len), "rejected": " " + text_of(completion_len)} \
                if args.trainer == "dpo" else {"completion": " " + text_of(completion_len)}
            if args.trainer == "kto":
                completions["label"] = i % 2 == 0
            f.write(json.dumps({"prompt": text_of(prompt_len), **completions}) + "\n")


if args.data_only:
    prepared = {"modelDir": str(model_dir), "dataPath": str(data_path), "params": n_params,
                "dims": shape_dims(args.shape) if shaped else None}
    (out / "prepared.json").write_text(json.dumps(prepared))
    print(json.dumps(prepared))
    sys.exit(0)


# --- TRL ---
class Timer(TrainerCallback):
    def __init__(self):
        self.ends = []
        self.peaks = []

    def on_step_end(self, args, state, control, **kwargs):
        if cuda:
            torch.cuda.synchronize()  # a step's end is when its kernels are done
        self.ends.append(time.perf_counter())
        self.peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


cuda = args.device == "cuda"
timer = Timer()
common = dict(
    output_dir=str(out / "trl"),
    bf16=args.bf16,
    use_cpu=not cuda,
    gradient_checkpointing=args.gradient_checkpointing,
    per_device_train_batch_size=args.batch,
    max_length=args.seq,
    max_steps=args.steps,
    logging_steps=1,
    learning_rate=1e-6,
    report_to="none",
    dataloader_num_workers=0,
    seed=42,
    save_strategy="no",
    disable_tqdm=True,
)
common.update(json.loads(args.settings))  # a row's own keys (they may override the ones above)
dataset = load_dataset("json", data_files=str(data_path), split="train")
t_setup = time.perf_counter()
peft = {}
if args.lora:
    from peft import LoraConfig  # noqa: E402

    peft = {"peft_config": LoraConfig(**LORA)}
if args.trainer == "dpo":
    trainer = DPOTrainer(model=str(model_dir), ref_model=None, args=DPOConfig(**common), train_dataset=dataset,
                         processing_class=tokenizer, callbacks=[timer], **peft)
elif args.trainer == "kto":
    trainer = KTOTrainer(model=str(model_dir), ref_model=None, args=KTOConfig(**common), train_dataset=dataset,
                         processing_class=tokenizer, callbacks=[timer], **peft)
else:
    trainer = SFTTrainer(model=str(model_dir), args=SFTConfig(**common), train_dataset=dataset,
                         processing_class=tokenizer, callbacks=[timer], **peft)
if args.trainer == "dpo":  # every sequence must reach --seq tokens, or the comparison is not like for like
    first = trainer.train_dataset[0]
    if len(first["prompt_ids"]) + len(first["chosen_ids"]) < args.seq:
        sys.exit(f"TRL tokenized row 0 to {len(first['prompt_ids'])} + {len(first['chosen_ids'])} tokens, < --seq {args.seq}")
setup_s = time.perf_counter() - t_setup  # the trainer's __init__: model (and reference) load, tokenization
if cuda:
    torch.cuda.reset_peak_memory_stats()  # the peak from here on: the model(s), activations, optimizer state
t0 = time.perf_counter()
trainer.train()
train_s = time.perf_counter() - t0
losses = [e["loss"] for e in trainer.state.log_history if "loss" in e and "step" in e]

print(json.dumps({
    "params": n_params,
    "modelDir": str(model_dir),
    "dataPath": str(data_path),
    "rows": args.rows,
    "stepEnds": [t - t0 for t in timer.ends],  # seconds since train() began
    "peakRssByStepMiB": timer.peaks,
    "trainableParams": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),  # the running peak at the end of each step
    "trainSeconds": train_s,
    "setupSeconds": setup_s,
    "losses": losses,
    "attnImplementation": trainer.model.config._attn_implementation,
    "threads": torch.get_num_threads(),
    "torch": torch.__version__,
    "transformers": transformers.__version__,
    "trl": trl.__version__,
    "python": sys.version.split()[0],
    "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
    "cudaPeakMiB": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
    "device": torch.cuda.get_device_name() if cuda else "cpu",
}))
