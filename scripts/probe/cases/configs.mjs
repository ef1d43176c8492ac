// Configs whose values cannot train, and output_dirs that cannot be written.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { config } from '../workspace.mjs';

const train = (dir, fields) => ({ args: ['train', config(dir, fields)], outputs: [join(dir, 'out')] });

export const configCases = [
  ...[
    ['beta: 0', { beta: 0 }],
    ['beta: -1 (kto)', { trainer: 'kto', beta: -1 }],
    ['learning_rate: .nan', { learning_rate: '.nan' }],
    ['learning_rate: .inf', { learning_rate: '.inf' }],
    ['adam_beta2: 1', { adam_beta2: 1 }],
    ['num_train_epochs: 0', { num_train_epochs: 0, max_steps: -1 }],
    ['unknown key', { learning_rat: 0.1 }],
    ['max_steps: two', { max_steps: 'two' }],
  ].map(([name, fields]) => ({ name, expect: 'error', setup: (dir) => train(dir, fields) })),
  {
    name: 'learning_rate: 1e30 (NaN loss)',
    expect: 'error',
    setup: (dir) => ({
      ...train(dir, { learning_rate: 1e30, max_steps: 6, save_strategy: 'steps', save_steps: 1 }),
      noNanIn: join(dir, 'out'),
    }),
  },
  {
    name: 'output_dir is a file',
    expect: 'error',
    setup: (dir) => {
      writeFileSync(join(dir, 'file'), '');
      return { args: ['train', config(dir, { output_dir: join(dir, 'file') })], outputs: [] };
    },
  },
  {
    name: 'output_dir without permission',
    expect: 'error',
    setup: (dir) => {
      mkdirSync(join(dir, 'locked'), { mode: 0o755 });
      chmodSync(dir, 0o755);
      // root writes anywhere: run as nobody then; otherwise take the write bit away.
      if (process.getuid?.() !== 0) chmodSync(join(dir, 'locked'), 0o555);
      return {
        args: ['train', config(dir, { output_dir: join(dir, 'locked', 'out') })],
        outputs: [],
        user: process.getuid?.() === 0 ? 65534 : undefined,
      };
    },
  },
];
