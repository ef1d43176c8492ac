// `npm run verify:tensorboard`: a short alignkit DPO run with report_to: tensorboard, then TensorBoard's own reader
// (scripts/verify/tensorboard_reads.py) loads its event file and finds every metrics.jsonl value under its tag.
// Needs the Python reference environment (scripts/fixtures/python-env.sh), so it is not part of `npm test`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { train } from '../../dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const python = execFileSync('bash', [join(root, 'scripts', 'fixtures', 'python-env.sh')], { encoding: 'utf8' }).trim();
const outputDir = join(mkdtempSync(join(tmpdir(), 'alignkit-verify-tb-')), 'dpo');
const data = join(root, 'test', 'fixtures', 'trl', 'dpo-train.jsonl');
await train(
  {
    trainer: 'dpo',
    model_name_or_path: join(root, 'test', 'fixtures', 'models', 'llama'),
    train_dataset: data,
    eval_dataset: data,
    output_dir: outputDir,
    report_to: ['tensorboard'],
    bf16: false,
    gradient_checkpointing: false,
    use_cpu: true,
    max_steps: 6,
    logging_steps: 1,
    eval_strategy: 'steps',
    eval_steps: 2,
    save_strategy: 'no',
    per_device_train_batch_size: 4,
    learning_rate: 1e-3,
  },
  { log: () => {} },
);
execFileSync(python, [join(root, 'scripts', 'verify', 'tensorboard_reads.py'), outputDir], { stdio: 'inherit' });
