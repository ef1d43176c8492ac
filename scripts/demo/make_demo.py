#!/usr/bin/env python3
"""The bundled demo (`alignkit demo`): a tiny random-initialised Llama, its tokenizer, and synthetic data whose
preference is real and checkable by a rule.

The task: a user asks about a thing and says how the answer must be written — in capital letters or in small
letters (several phrasings of each). An answer names two of the thing's properties: "the cat is soft and small."

  sft.jsonl                 prompt/completion conversations whose answers are right about the thing but in a random case: SFT teaches
                            the content and leaves the case instruction unlearnt (half the answers ignore it)
  preferences_train.jsonl   prompt / chosen (the asked case) / rejected (the other case), same words
  preferences_eval.jsonl    the same on held-out (thing, phrasing) pairs, never trained on by DPO
  prompts.jsonl             held-out prompts, with the case they ask for (`case`) and their `thing`, for generation
                            and the rule judge (src/demo/case-judge.ts)

Writes test/fixtures/demo/{model,data}/. Deterministic (fixed seeds, one thread); re-running gives the same bytes.
Pinned against torch 2.13.0+cpu / transformers 5.18.0 / tokenizers (see scripts/fixtures/python-env.sh).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import offline_env  # noqa: E402,F401  (before the HF libraries)

import torch  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "demo"

THINGS = {
    "cat": ["soft", "small", "quiet", "curious"], "dog": ["loyal", "loud", "happy", "fast"],
    "sun": ["bright", "hot", "round", "distant"], "moon": ["pale", "cold", "round", "silent"],
    "river": ["long", "cold", "wide", "calm"], "mountain": ["tall", "cold", "rocky", "old"],
    "apple": ["red", "sweet", "round", "crisp"], "lemon": ["sour", "yellow", "bright", "small"],
    "train": ["long", "fast", "loud", "heavy"], "bicycle": ["light", "quiet", "fast", "cheap"],
    "ocean": ["deep", "wide", "blue", "salty"], "desert": ["dry", "hot", "wide", "empty"],
    "forest": ["green", "dark", "quiet", "old"], "city": ["busy", "loud", "bright", "big"],
    "book": ["old", "heavy", "quiet", "useful"], "lamp": ["bright", "small", "warm", "cheap"],
    "owl": ["wise", "quiet", "brown", "small"], "horse": ["strong", "fast", "tall", "calm"],
    "snow": ["cold", "white", "soft", "quiet"], "fire": ["hot", "bright", "red", "loud"],
    "storm": ["dark", "loud", "wild", "wet"], "garden": ["green", "calm", "small", "bright"],
    "bridge": ["long", "old", "strong", "high"], "clock": ["round", "old", "loud", "small"],
}
UPPER = ["Describe the {} in capital letters.", "Tell me about the {}, all in caps.", "Write about the {} in uppercase."]
LOWER = ["Describe the {} in small letters.", "Tell me about the {}, no capitals.", "Write about the {} in lowercase."]
SYSTEM_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def answer(rng: random.Random, thing: str) -> str:
    a, b = rng.sample(THINGS[thing], 2)
    return f"the {thing} is {a} and {b}."


def held_out(i: int, upper: bool, phrasing: int) -> bool:
    """One phrasing per thing and case is kept out of DPO training: (thing i, upper) drops i % 3, lower (i + 1) % 3."""
    return phrasing == (i % 3 if upper else (i + 1) % 3)


def prompts():
    """Every (thing, case, phrasing) prompt with its held-out flag."""
    for i, thing in enumerate(THINGS):
        for upper, phrasings in ((True, UPPER), (False, LOWER)):
            for p, text in enumerate(phrasings):
                yield thing, upper, text.format(thing), held_out(i, upper, p)


def write_jsonl(path: Path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def make_data(d: Path) -> list[str]:
    d.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    all_prompts = list(prompts())
    sft = []
    for _ in range(12):  # every prompt 12 times, each with a fresh answer in a random case
        for thing, _, text, _ in all_prompts:
            reply = answer(rng, thing)
            sft.append({"prompt": [{"role": "user", "content": text}],
                        "completion": [{"role": "assistant", "content": reply.upper() if rng.random() < 0.5 else reply}]})
    rng.shuffle(sft)
    write_jsonl(d / "sft.jsonl", sft)

    def pairs(held: bool, repeats: int):
        rows = []
        for _ in range(repeats):
            for thing, upper, text, h in all_prompts:
                if h != held:
                    continue
                reply = answer(rng, thing)
                good, bad = (reply.upper(), reply) if upper else (reply, reply.upper())
                rows.append({"prompt": [{"role": "user", "content": text}],
                             "chosen": [{"role": "assistant", "content": good}],
                             "rejected": [{"role": "assistant", "content": bad}]})
        rng.shuffle(rows)
        return rows

    write_jsonl(d / "preferences_train.jsonl", pairs(False, 4))
    write_jsonl(d / "preferences_eval.jsonl", pairs(True, 2))
    write_jsonl(d / "prompts.jsonl", [{"prompt": [{"role": "user", "content": text}], "case": "upper" if upper else "lower",
                                       "thing": thing} for thing, upper, text, h in all_prompts if h])
    # The tokenizer's corpus: every conversation's text in both cases.
    return [m["content"] for row in sft for m in row["prompt"] + row["completion"]] + [r.upper() for t in THINGS for r in
                                                                      (answer(rng, t) for _ in range(4))]


def make_tokenizer(d: Path, corpus: list[str]) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   extra_special_tokens=["<|im_start|>"], model_max_length=256,
                                   clean_up_tokenization_spaces=False)
    fast.chat_template = SYSTEM_TEMPLATE
    fast.save_pretrained(str(d))
    return fast


def make_model(d: Path, tokenizer: PreTrainedTokenizerFast) -> None:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=False,
        bos_token_id=None, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(str(d))


def main() -> None:
    torch.set_num_threads(1)
    corpus = make_data(OUT / "data")
    tokenizer = make_tokenizer(OUT / "model", corpus)
    make_model(OUT / "model", tokenizer)
    for f in sorted(OUT.rglob("*")):
        if f.is_file():
            print(f"{f.relative_to(ROOT)}: {f.stat().st_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
