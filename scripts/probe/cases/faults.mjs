// Faults around a run: a second run on its output_dir, signals, a disk that fills at the final save, a kill -9 and
// a resume, an address-space limit. `before`/`after` run around the case's command; `during` acts on it while it runs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { cli, config, dpoRows, model } from '../workspace.mjs';

/** Starts the CLI in the background; resolves once its output matches `ready`. */
async function background(args, ready) {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exit = new Promise((resolve) => child.on('exit', resolve));
  const deadline = Date.now() + 60_000;
  while (!ready(output)) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`background run never got ready: ${output.slice(-300)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, exit };
}

const stepped = (output) => /step 1\//.test(output);

export const faultCases = [
  {
    name: 'second run on a busy output_dir',
    expect: 'error',
    code: 'ERR_LOCKED',
    setup: (dir) => {
      const path = config(dir, { max_steps: 100000 });
      let first;
      return {
        args: ['train', path],
        outputs: [join(dir, 'out')],
        before: async () => {
          first = await background(['train', path], stepped);
        },
        after: async () => {
          first.child.kill('SIGINT');
          await new Promise((r) => setTimeout(r, 400));
          first.child.kill('SIGINT');
          await first.exit;
        },
      };
    },
  },
  {
    name: 'SIGTERM mid-run',
    expect: 'stopped',
    exitCode: 143,
    setup: (dir) => ({
      args: ['train', config(dir, { max_steps: 100000 })],
      outputs: [join(dir, 'out')],
      during: async (run) => {
        while (!stepped(run.output())) await new Promise((r) => setTimeout(r, 100));
        run.child.kill('SIGTERM');
      },
    }),
  },
  {
    name: 'Ctrl-C mid-run',
    expect: 'stopped',
    exitCode: 130,
    setup: (dir) => ({
      args: ['train', config(dir, { max_steps: 100000 })],
      outputs: [join(dir, 'out')],
      during: async (run) => {
        while (!stepped(run.output())) await new Promise((r) => setTimeout(r, 100));
        run.child.kill('SIGINT');
      },
    }),
  },
  {
    name: 'disk full at the final save',
    expect: 'error',
    setup: (dir) => {
      // A tokenizer.json (whitespace-padded) larger than the weights: under a 500 KiB file-size limit the weights are
      // written and the tokenizer copy fails, as a disk filling up would fail it. The previous model must survive.
      const m = model(dir);
      writeFileSync(join(m, 'tokenizer.json'), readFileSync(join(m, 'tokenizer.json'), 'utf8') + ' '.repeat(600_000));
      const out = model(dir, 'llama', 'out');
      return {
        args: ['train', config(dir, { model_name_or_path: m, output_dir: out, learning_rate: 0.01 })],
        outputs: [out],
        shell: "trap '' XFSZ; ulimit -f 500;",
        keep: ['out/model.safetensors', 'out/config.json', 'out/tokenizer.json'],
      };
    },
  },
  {
    name: 'kill -9, then resume',
    expect: 'ok',
    setup: (dir) => {
      const first = config(dir, { max_steps: 100000, save_strategy: 'steps', save_steps: 1 }, 'first.yaml');
      return {
        args: [
          'train',
          config(dir, { max_steps: 3, resume_from_checkpoint: true, save_strategy: 'steps', save_steps: 1 }),
        ],
        outputs: [join(dir, 'out')],
        before: async () => {
          const run = await background(['train', first], () =>
            existsSync(join(dir, 'out', 'checkpoint-1', 'trainer_state.json')),
          );
          run.child.kill('SIGKILL');
          await run.exit;
        },
      };
    },
  },
  {
    name: 'stale lock of a dead pid',
    expect: 'ok',
    setup: (dir) => {
      const pid = spawnSync(process.execPath, ['-e', '0']).pid;
      const out = join(dir, 'out');
      spawnSync('mkdir', ['-p', out]);
      writeFileSync(
        join(out, 'alignkit.lock'),
        JSON.stringify({ pid, host: hostname(), started: 'earlier', command: 'killed' }),
      );
      return { args: ['train', config(dir, {})], outputs: [out] };
    },
  },
  {
    name: 'ulimit -v 12000000, small run',
    expect: 'ok',
    setup: (dir) => ({
      args: ['train', config(dir, { train_dataset: dpoRows })],
      outputs: [join(dir, 'out')],
      shell: 'ulimit -v 12000000;',
    }),
  },
];
