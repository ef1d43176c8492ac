// Runs the built CLI (dist/, `npm run build:ts`) as a user would, and the checks every reliability case shares:
// a refusal is one `alignkit: ... [ERR_...]` line on stderr, never a Node stack trace.
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { fixturesDir, modelDir } from '../helpers/fixtures.js';

export const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: SpawnSyncOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, ...options });
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The CLI started in the background, with its output so far and its exit. */
export function startCli(args: string[], cwd?: string) {
  const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exit };
}

/** Exit code 1 and exactly one stderr line `alignkit: <message> [code]` matching `message`: no stack trace. */
export function expectOneLineError(result: CliResult, code: string, message: RegExp | string): void {
  const lines = result.stderr.trim().split('\n');
  expect(result.status, result.stderr).toBe(1);
  expect(lines.at(-1)).toMatch(new RegExp(`^alignkit: .* \\[${code}\\]$`));
  if (typeof message === 'string') expect(lines.at(-1)).toContain(message);
  else expect(lines.at(-1)).toMatch(message);
  expect(result.stderr).not.toMatch(/^\s+at |node:internal|Error: /m);
}

/** Every file under `dir` with a hash of its bytes: equal before and after means nothing in it changed. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (path: string, rel: string) => {
    if (statSync(path).isDirectory())
      for (const name of readdirSync(path).sort()) visit(join(path, name), rel ? `${rel}/${name}` : name);
    else out[rel] = createHash('sha256').update(readFileSync(path)).digest('hex');
  };
  visit(dir, '');
  return out;
}

/** A copy of the llama fixture in `dir` (tests may break it without touching the committed one). */
export function copyModel(dir: string, name = 'llama'): string {
  cpSync(modelDir(name), dir, { recursive: true });
  return dir;
}

export const dpoData = join(fixturesDir, 'trl', 'dpo-train.jsonl');

/** A small DPO config file (YAML) in `dir`: two steps on the llama fixture, `fields` overriding its keys. */
export function dpoConfig(dir: string, fields: Record<string, string | number | boolean>): string {
  const base: Record<string, string | number | boolean> = {
    trainer: 'dpo',
    model_name_or_path: modelDir('llama'),
    train_dataset: dpoData,
    output_dir: join(dir, 'out'),
    bf16: false,
    use_cpu: true,
    max_steps: 2,
    logging_steps: 1,
    save_strategy: 'no',
    per_device_train_batch_size: 2,
    gradient_checkpointing: false,
  };
  const path = join(dir, 'config.yaml');
  writeFileSync(
    path,
    Object.entries({ ...base, ...fields })
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n') + '\n',
  );
  return path;
}
