"""Checks the other direction of the safetensors round trip: a folder written by alignkit's `Model.save`
loads in Python transformers (AutoModelForCausalLM / AutoTokenizer) and gives the logits alignkit gave.

usage: python transformers_loads_saved.py SAVED_DIR LOGITS_FILE
  LOGITS_FILE: safetensors with `input_ids` (int32 [B,T]) and `logits` (float32 [B,T,V]) from alignkit.
Run through `npm run verify:transformers`, which produces both with alignkit first.
"""
import os
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

saved_dir, logits_file = sys.argv[1], sys.argv[2]
expected = load_file(logits_file)
model = AutoModelForCausalLM.from_pretrained(saved_dir, dtype=torch.float32).eval()
with torch.no_grad():
    logits = model(expected["input_ids"].long()).logits
diff = (logits - expected["logits"]).abs().max().item()
tokenizer = "no tokenizer in this fixture"
if os.path.exists(os.path.join(saved_dir, "tokenizer.json")):
    loaded = AutoTokenizer.from_pretrained(saved_dir)
    tokenizer = f"tokenizer {type(loaded).__name__} with {len(loaded)} tokens"
print(f"{saved_dir}: {type(model).__name__} loaded, max |logits diff| vs alignkit = {diff:.3e}, {tokenizer}")
if diff > 1e-4:
    sys.exit(f"mismatch: {diff} > 1e-4")
