#!/usr/bin/env node
// `npm run probe`: replays the probe corpus (cases/: bad model folders, chat templates, data, configs, faults)
// against the built CLI (dist/cli/main.js; `npm run build:ts` first) and prints one row per case: exit code, the
// line it ended with, and the verdict. A case passes with a clear error (exit 1, one `alignkit: ... [ERR_...]`
// line) or the correct result, and only with no stack trace, no crash, no hang past its limit, no file changed
// outside its output_dir, no secret copied or printed, no NaN saved. Exits 1 when any case fails.
//
//   npm run probe [-- --only <substring>]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { configCases } from './cases/configs.mjs';
import { dataCases } from './cases/data.mjs';
import { faultCases } from './cases/faults.mjs';
import { modelCases } from './cases/models.mjs';
import { templateCases } from './cases/templates.mjs';
import { changed, cli, secretLeaked, snapshot } from './workspace.mjs';
import { finiteSafetensors } from './verdict.mjs';

const { values: opts } = parseArgs({ options: { only: { type: 'string' } } });
const cases = [...modelCases, ...templateCases, ...dataCases, ...configCases, ...faultCases].filter(
  (c) => !opts.only || c.name.includes(opts.only),
);
if (!existsSync(cli)) {
  console.error(`probe: ${cli} is missing; run npm run build:ts first`);
  process.exit(2);
}

/** Runs the case's command; resolves with its exit and output, killing it after `limit` seconds. */
function run(setup, limit) {
  const quoted = [process.execPath, cli, ...setup.args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = setup.shell
    ? spawn('bash', ['-c', `${setup.shell} exec ${quoted}`], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [cli, ...setup.args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        uid: setup.user,
        gid: setup.user,
      });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, limit * 1000);
  const exit = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, hung, stdout, stderr });
    }),
  );
  return { child, output: () => stdout + stderr, exit };
}

/** What is wrong with the case's outcome, or null. */
function verdictOf(c, setup, r, dir, before, keepBefore) {
  const lastErr = r.stderr.trim().split('\n').at(-1) ?? '';
  if (r.hung) return `hang past ${c.timeout ?? 120} s`;
  if (r.signal) return `crash (signal ${r.signal})`;
  if (/^\s+at |node:internal|^[A-Za-z]*Error: |Node\.js v\d/m.test(r.stderr)) return 'stack trace';
  const outside = changed(before, snapshot(dir, setup.outputs));
  if (outside.length) return `changed outside output_dir: ${outside.slice(0, 3).join(', ')}`;
  if (setup.keep && changed(keepBefore, snapshot(dir, [])).some((f) => setup.keep.includes(f)))
    return 'previous model in output_dir not intact';
  if (setup.outputs.some(secretLeaked) || /PROBE-SECRET|root:x/.test(r.stdout + r.stderr)) return 'secret leaked';
  if (setup.noNanIn && !finiteSafetensors(setup.noNanIn)) return 'NaN saved';
  if (c.expect === 'error') {
    if (r.code !== 1) return `expected an error, exit ${r.code}`;
    if (!/^alignkit: .+ \[[A-Z_]+\]$/.test(lastErr)) return 'error is not one alignkit line';
    if (c.code && !lastErr.endsWith(`[${c.code}]`)) return `expected ${c.code}`;
    return null;
  }
  if (c.expect === 'stopped')
    return r.code === c.exitCode && /stopped at step \d+: checkpoint/.test(r.stdout)
      ? null
      : `expected a checkpoint and exit ${c.exitCode}`;
  return r.code === 0 ? null : `expected success, exit ${r.code}`;
}

const rows = [];
for (const c of cases) {
  const dir = mkdtempSync(join(tmpdir(), 'alignkit-probe-'));
  let row;
  try {
    const setup = c.setup(dir);
    await setup.before?.();
    const before = snapshot(dir, setup.outputs);
    const keepBefore = snapshot(dir, []);
    const started = performance.now();
    const running = run(setup, c.timeout ?? 120);
    await setup.during?.(running);
    const r = await running.exit;
    await setup.after?.();
    const wrong = verdictOf(c, setup, r, dir, before, keepBefore);
    const line =
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('alignkit:'))
        .at(-1) ??
      r.stdout
        .trim()
        .split('\n')
        .filter((l) => /^(done|stopped|merged|type)/.test(l))[0] ??
      r.stderr.trim().split('\n').at(-1) ??
      '';
    row = {
      name: c.name,
      exit: r.hung ? 'hung' : (r.code ?? r.signal),
      seconds: ((performance.now() - started) / 1000).toFixed(1),
      line,
      verdict: wrong
        ? `FAIL: ${wrong}`
        : c.expect === 'ok'
          ? 'ok: correct result'
          : c.expect === 'stopped'
            ? 'ok: checkpoint, stopped'
            : 'ok: clear error',
    };
  } catch (err) {
    row = {
      name: c.name,
      exit: '-',
      seconds: '-',
      line: String(err.message).split('\n')[0],
      verdict: 'FAIL: probe setup',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
  rows.push(row);
  console.error(`${row.verdict.startsWith('ok') ? '.' : 'F'} ${row.name}`);
}

const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
const header = ['case', 'exit', 's', 'first line', 'verdict'];
const table = rows.map((r) => [r.name, String(r.exit), r.seconds, clip(r.line, 110), r.verdict]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const format = (cells) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
console.log(format(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const t of table) console.log(format(t));
const failed = rows.filter((r) => !r.verdict.startsWith('ok')).length;
console.log(`\n${rows.length - failed}/${rows.length} cases ok`);
process.exitCode = failed ? 1 : 0;
