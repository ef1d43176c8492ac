// Datasets with no usable row, or that are not files at all.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { config, dpoRows, fixtures, SECRET } from '../workspace.mjs';

const train = (dir, fields) => ({ args: ['train', config(dir, fields)], outputs: [join(dir, 'out')] });
const file = (dir, name, text) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

export const dataCases = [
  {
    name: 'empty dataset',
    expect: 'error',
    setup: (dir) => train(dir, { train_dataset: file(dir, 'empty.jsonl', '') }),
  },
  { name: 'all rows dropped (max_length: 1)', expect: 'error', setup: (dir) => train(dir, { max_length: 1 }) },
  {
    name: 'all rows invalid, skipped',
    expect: 'error',
    setup: (dir) =>
      train(dir, {
        train_dataset: file(dir, 'bad.jsonl', '{"prompt": "a"}\n{"chosen": "b"}\n'),
        skip_invalid_rows: true,
      }),
  },
  {
    name: '0-row eval split',
    expect: 'error',
    setup: (dir) => train(dir, { eval_dataset: file(dir, 'empty.jsonl', ''), eval_strategy: 'steps', eval_steps: 1 }),
  },
  {
    name: 'dataset /dev/zero',
    expect: 'error',
    timeout: 30,
    setup: (dir) => train(dir, { train_dataset: '/dev/zero' }),
  },
  {
    name: 'dataset is a FIFO',
    expect: 'error',
    timeout: 30,
    setup: (dir) => {
      execFileSync('mkfifo', [join(dir, 'rows.jsonl')]);
      return train(dir, { train_dataset: join(dir, 'rows.jsonl') });
    },
  },
  {
    name: 'dataset is /etc/passwd-like text',
    expect: 'error',
    setup: (dir) => train(dir, { train_dataset: file(dir, 'rows.jsonl', SECRET) }),
  },
  {
    name: 'dataset missing',
    expect: 'error',
    setup: (dir) => train(dir, { train_dataset: join(dir, 'nowhere.jsonl') }),
  },
  {
    name: 'dataset with a broken JSON line',
    expect: 'error',
    setup: (dir) => train(dir, { train_dataset: join(fixtures, 'data', 'bad.jsonl') }),
  },
  {
    name: 'fewer rows than a batch, drop_last',
    expect: 'error',
    setup: (dir) => train(dir, { per_device_train_batch_size: 64, dataloader_drop_last: true }),
  },
  { name: 'a good dataset (control)', expect: 'ok', setup: (dir) => train(dir, { train_dataset: dpoRows }) },
];
