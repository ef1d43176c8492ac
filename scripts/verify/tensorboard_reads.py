"""TensorBoard itself reads what alignkit's report_to: tensorboard wrote: every event file under OUTPUT_DIR/runs/
loads in TensorBoard's EventAccumulator (which checks each record's CRCs), holds the `args` text, and has every
number of OUTPUT_DIR/metrics.jsonl under transformers' tag (rewrite_logs) at its step, as a float32.

usage: python tensorboard_reads.py OUTPUT_DIR
Run through `npm run verify:tensorboard`, which trains a short run with alignkit first.
"""
import glob
import json
import os
import struct
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

output_dir = sys.argv[1]
(path,) = glob.glob(os.path.join(output_dir, "runs", "*", "events.out.tfevents.*"))
accumulator = EventAccumulator(path, size_guidance={"scalars": 0, "tensors": 0})
accumulator.Reload()
assert accumulator.file_version == 2.0, accumulator.file_version
tags = accumulator.Tags()

(args,) = accumulator.Tensors("args/text_summary")
assert json.loads(args.tensor_proto.string_val[0].decode()) == json.load(open(os.path.join(output_dir, "training_args.json")))


def tag(key: str) -> str:
    for prefix in ("eval_", "test_"):
        if key.startswith(prefix):
            return prefix[:-1] + "/" + key[len(prefix):]
    return "train/" + key


expected: dict[str, list[tuple[int, float]]] = {}
with open(os.path.join(output_dir, "metrics.jsonl")) as lines:
    for line in lines:
        entry = json.loads(line)
        for key, value in entry.items():
            if key != "step":
                expected.setdefault(tag(key), []).append((entry["step"], struct.unpack("f", struct.pack("f", value))[0]))
read = {t: [(e.step, e.value) for e in accumulator.Scalars(t)] for t in tags["scalars"]}
if read != expected:
    sys.exit(f"{path}: TensorBoard read {read}\nbut metrics.jsonl has {expected}")
print(f"{path}: TensorBoard reads {sum(map(len, read.values()))} scalars in {len(read)} tags ({', '.join(sorted(read)[:6])}, ...) and the args text")
