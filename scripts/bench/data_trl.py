"""Python side of `npm run bench:data`: TRL 1.13's preference tokenization and batching, timed.

    python scripts/bench/data_trl.py OUT_DIR [--rows N] [--seed S] [--batch B] [--max-length L]

1. Writes N seeded, deterministic preference rows (prompts ~50-300 words, completions ~20-200 words, some
   non-ASCII text) to OUT_DIR/standard.jsonl (prompt/chosen/rejected text) and OUT_DIR/conversational.jsonl
   (the same texts as {role, content} messages). Not timed.
2. Per variant, times, each separately and cold (datasets caching off, a fresh load_dataset cache_dir):
   - load:      datasets.load_dataset('json', data_files=..., split='train')  (JSON Lines -> Arrow)
   - tokenizer: AutoTokenizer.from_pretrained(chatml-bytelevel fixture)
   - tokenize:  DPOTrainer._prepare_dataset with DPOConfig(dataset_num_proc=None, max_length=L) — one-process
                datasets.map, as TRL defaults; L=1024 is TRL's default too — on a trainer made with DPOTrainer.__new__ (only _tokenizer set), as
                scripts/fixtures/make_trl_preference_tokens.py does
   - batch:     what Trainer's train dataloader does with TRL's defaults: drop the non-signature columns
                (remove_unused_columns), then torch DataLoader(batch_size=B, RandomSampler seeded 42,
                num_workers=0, collate_fn=DataCollatorForPreference(pad_token_id, max_length=L)) over all rows
3. Writes OUT_DIR/trl_reference.json (first 50 tokenized rows and one collated batch per variant) for the node
   side's equality check, and prints the timings as one JSON line on stdout (progress on stderr).

"tokenize" alone excludes the load and tokenizer load; the node side compares like with like using
load + tokenizer + tokenize (alignkit's preprocessPreferences reads the file and loads the tokenizer itself).
"""
import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "test" / "fixtures" / "tokenizers" / "chatml-bytelevel"
CHECK_ROWS = 50
CHECK_BATCH = [0, 3, 7, 11, 19, 23, 42, 49]

WORDS = (
    "the of and to in is that it for on with as was be by this are from at or an have not but they which one you "
    "all were her his can there we been has when their will would what if more so about out up into do than them "
    "some time could only other new these two may first then any like people now over such our man me even most "
    "made after also did many before must through back years where much your way well down should because each "
    "just those how too little state good very make world still own see men work long get here between both life "
    "being under never day same another know while last might us great old year off come since against go came "
    "right used take three model training data loss gradient batch token sequence learning rate optimizer weight "
    "layer attention network function value result example question answer policy reference reward preference "
    "chosen rejected prompt response assistant human system python library install version error message "
    "configuration memory compute performance benchmark experiment dataset sample average median variance "
    "probability distribution estimate parameter update step epoch checkpoint evaluate metric accuracy score"
).split()
UNICODE_WORDS = [
    "café", "naïve", "Zürich", "São", "Paulo", "façade", "résumé", "Ångström", "garçon", "straße", "Kraków",
    "日本語", "東京", "中文", "数据", "模型", "训练", "привет", "мир", "данные", "Ελληνικά", "αβγ", "עברית", "العربية",
    "हिन्दी", "한국어", "ไทย", "🙂", "🚀", "✨", "👍", "—", "…", "“quoted”", "±", "→", "≤", "∑", "µs", "°C",
]
PUNCT = [".", ".", ".", "?", "!", ";", ":"]


def sentence(rng, n):
    words = []
    for i in range(n):
        w = rng.choice(UNICODE_WORDS) if rng.random() < 0.04 else rng.choice(WORDS)
        if rng.random() < 0.03:
            w = str(rng.randint(0, 100000))
        words.append(w)
        if i < n - 1 and rng.random() < 0.06:
            words[-1] += ","
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) + rng.choice(PUNCT)


def text(rng, n_words):
    """n_words words in sentences of 4-24 words, in paragraphs; sometimes a list or a code line."""
    out, left = [], n_words
    while left > 0:
        n = min(left, rng.randint(4, 24))
        left -= n
        s = sentence(rng, n)
        r = rng.random()
        if r < 0.08:
            s = "\n\n" + s
        elif r < 0.12:
            s = "\n- " + s
        elif r < 0.13:
            s = "\n```\nx = f(" + str(rng.randint(0, 99)) + ")\n```\n" + s
        out.append(s)
    return " ".join(out).strip()


def generate(n, seed):
    rng = random.Random(seed)
    standard, conversational = [], []
    for _ in range(n):
        turns = [text(rng, rng.randint(50, 300))]
        if rng.random() < 0.2:  # multi-turn prompt: user, assistant, user
            turns += [text(rng, rng.randint(20, 80)), text(rng, rng.randint(10, 40))]
        system = text(rng, rng.randint(5, 20)) if rng.random() < 0.3 else None
        chosen = text(rng, rng.randint(20, 200))
        rejected = text(rng, rng.randint(20, 200))

        # Text variant, hh-rlhf style: the completion starts with a space after "Assistant:".
        roles = ["Human", "Assistant"]
        prompt_text = "".join(f"\n\n{roles[i % 2]}: {t}" for i, t in enumerate(turns)) + "\n\nAssistant:"
        if system:
            prompt_text = system + prompt_text
        standard.append({"prompt": prompt_text, "chosen": " " + chosen, "rejected": " " + rejected})

        msgs = [{"role": "system", "content": system}] if system else []
        msgs += [{"role": ["user", "assistant"][i % 2], "content": t} for i, t in enumerate(turns)]
        conversational.append({
            "prompt": msgs,
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        })
    return {"standard": standard, "conversational": conversational}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=1024, help="DPOConfig.max_length and the collator's")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    variants = generate(args.rows, args.seed)
    for name, rows in variants.items():
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"data_trl: wrote {args.rows} rows x {len(variants)} variants in {time.perf_counter() - t0:.1f}s", file=sys.stderr)

    # Imports are not timed (node's module loading is not either).
    import datasets
    import torch
    import transformers
    import trl
    from torch.utils.data import DataLoader, RandomSampler
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    datasets.disable_caching()
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()

    results, reference = {}, {}
    for name in variants:
        path = out / f"{name}.jsonl"
        cache_dir = tempfile.mkdtemp(prefix="hf-cache-", dir=out)  # fresh: load_dataset cannot reuse an earlier build
        cpu0, w0 = time.process_time(), time.perf_counter()
        ds = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=cache_dir)
        t_load = time.perf_counter() - w0

        w1 = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(TOKENIZER)
        t_tok_load = time.perf_counter() - w1

        w2 = time.perf_counter()
        trainer = DPOTrainer.__new__(DPOTrainer)  # _prepare_dataset needs only the tokenizer, not a model
        trainer._tokenizer = tokenizer
        with tempfile.TemporaryDirectory() as tmp:
            cfg = DPOConfig(output_dir=tmp, bf16=False, report_to="none", dataset_num_proc=None, max_length=args.max_length)
            tokenized = trainer._prepare_dataset(ds, tokenizer, cfg, "train")
        t_tokenize = time.perf_counter() - w2
        cpu_tokenize = time.process_time() - cpu0

        # Trainer with remove_unused_columns=True keeps only the columns DPOTrainer signs for.
        keep = ["prompt_ids", "chosen_ids", "rejected_ids"]
        tokenized = tokenized.remove_columns([c for c in tokenized.column_names if c not in keep])
        collator = DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id, max_length=args.max_length)
        cpu1, w3 = time.process_time(), time.perf_counter()
        loader = DataLoader(tokenized, batch_size=args.batch, sampler=RandomSampler(tokenized, generator=torch.Generator().manual_seed(42)),
                            collate_fn=collator, num_workers=0)
        batches = padded = 0
        for b in loader:
            batches += 1
            padded += b["input_ids"].numel()
        t_batch = time.perf_counter() - w3
        cpu_batch = time.process_time() - cpu1

        ref_rows = [{k: tokenized[i][k] for k in keep} for i in range(min(CHECK_ROWS, len(tokenized)))]
        ref_batch = collator([tokenized[i] for i in CHECK_BATCH if i < len(tokenized)])
        reference[name] = {
            "rows": ref_rows,
            "batch": {"indices": [i for i in CHECK_BATCH if i < len(tokenized)],
                      **{k: v.tolist() for k, v in ref_batch.items()}},
        }
        results[name] = {
            "inputRows": len(ds), "rows": len(tokenized), "dropped": len(ds) - len(tokenized),
            "loadSeconds": t_load, "tokenizerLoadSeconds": t_tok_load, "tokenizeSeconds": t_tokenize,
            "tokenizeCpuSeconds": cpu_tokenize,  # load + tokenizer + tokenize, all threads
            "batchSeconds": t_batch, "batchCpuSeconds": cpu_batch, "batches": batches, "paddedTokens": padded,
        }
        print(f"data_trl: {name}: load {t_load:.2f}s, tokenizer {t_tok_load:.2f}s, tokenize {t_tokenize:.2f}s, "
              f"batch {t_batch:.2f}s ({len(tokenized)} rows, {batches} batches)", file=sys.stderr)
        del ds, tokenized, loader
        shutil.rmtree(cache_dir, ignore_errors=True)

    (out / "trl_reference.json").write_text(json.dumps(reference) + "\n")
    print(json.dumps({
        "variants": results,
        "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "versions": {"python": sys.version.split()[0], "trl": trl.__version__, "transformers": transformers.__version__,
                     "datasets": datasets.__version__, "tokenizers": __import__("tokenizers").__version__,
                     "torch": torch.__version__},
        "tokenizersParallelism": os.environ.get("TOKENIZERS_PARALLELISM"),
    }))


if __name__ == "__main__":
    main()
