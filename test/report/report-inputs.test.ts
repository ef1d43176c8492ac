// What report() accepts and refuses: a bad metrics.jsonl line is an error naming the file, the line and the field;
// a diverged (null) value is left out of its chart; eval_results.json, flat or grouped one level, becomes a table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AlignkitError, report } from '../../src/index.js';
import { readMetricsLog } from '../../src/report/metrics-log.js';
import { metricSeries } from '../../src/report/series.js';
import { resultsTable } from '../../src/report/tables.js';
import { tempDir } from '../helpers/fixtures.js';

function runDir(files: Record<string, string>): string {
  const dir = tempDir('report-input');
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function reportError(dir: string): Promise<AlignkitError> {
  const err = await report(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AlignkitError);
  return err as AlignkitError;
}

const entry = (step: number, loss: unknown) => JSON.stringify({ loss, learning_rate: 1e-3, epoch: step / 4, step });

describe('metrics.jsonl', () => {
  it('a folder without one says which file and who writes it', async () => {
    const dir = runDir({});
    const err = await reportError(dir);
    expect(err.code).toBe('ERR_NOT_FOUND');
    expect(err.message).toMatch(
      new RegExp(`^${join(dir, 'metrics.jsonl')}: cannot be read \\(.*\\); alignkit train writes it to output_dir$`),
    );
  });

  it.each([
    ['not JSON', `${entry(1, 0.7)}\n{"loss": 0.6,\n`, 2, /^not valid JSON \(/],
    ['not an object', `[1, 2]\n`, 1, /^expected a JSON object of named numbers$/],
    [
      'a value that is not a number',
      `${entry(1, 0.7)}\n${entry(2, 0.6)}\n${entry(3, 'low')}\n`,
      3,
      /^'loss' must be a number or null, got "low"$/,
    ],
    ['no step', `{"loss": 0.7}\n`, 1, /^has no numeric 'step'$/],
  ])('a line with %s names the file and line', async (_, text, line, message) => {
    const dir = runDir({ 'metrics.jsonl': text });
    const err = await reportError(dir);
    expect(err.code).toBe('ERR_INVALID_DATA');
    const prefix = `${join(dir, 'metrics.jsonl')}:${line}: `;
    expect(err.message.startsWith(prefix), err.message).toBe(true);
    expect(err.message.slice(prefix.length)).toMatch(message);
  });

  it('without entries it is an error, not an empty page', async () => {
    const dir = runDir({ 'metrics.jsonl': '\n\n' });
    expect((await reportError(dir)).message).toBe(
      `${join(dir, 'metrics.jsonl')}: holds no training or evaluation log entries yet`,
    );
  });

  it('a diverged value (JSON null) is left out of its chart; the other metrics keep the step', async () => {
    const dir = runDir({ 'metrics.jsonl': [entry(1, 0.7), entry(2, null), entry(3, 0.5)].join('\n') + '\n' });
    const series = metricSeries(await readMetricsLog(join(dir, 'metrics.jsonl')));
    expect(series.find((s) => s.metric === 'loss')!.points.map((p) => p.step)).toEqual([1, 3]);
    expect(series.find((s) => s.metric === 'learning_rate')!.points.map((p) => p.step)).toEqual([1, 2, 3]);
  });

  it('an online_dpo run: the judge score first, no chart of the round', async () => {
    const round = (r: number, step: number, score: number) =>
      JSON.stringify({ round: r, 'online/pairs': 9, 'online/score_mean': score, step });
    const dir = runDir({
      'metrics.jsonl':
        [round(1, 0, 0.4), JSON.stringify({ ...JSON.parse(entry(1, 0.7)), round: 1 }), round(2, 1, 0.6)].join('\n') +
        '\n',
    });
    const series = metricSeries(await readMetricsLog(join(dir, 'metrics.jsonl')));
    expect(series[0]).toEqual({
      metric: 'online/score_mean',
      points: [
        { step: 0, value: 0.4, split: 'train' },
        { step: 1, value: 0.6, split: 'train' },
      ],
    });
    expect(series.map((s) => s.metric)).not.toContain('round');
  });
});

describe('eval_results.json', () => {
  it.each([
    ['not JSON', '{"win_rate": ', /: not valid JSON \(/],
    ['an array', '[0.7]', /: expected a JSON object of named values, got an array$/],
  ])('%s is an error naming the file', async (_, text, message) => {
    const dir = runDir({ 'metrics.jsonl': entry(1, 0.7) + '\n', 'eval_results.json': text });
    const err = await reportError(dir);
    expect(err.code).toBe('ERR_INVALID_DATA');
    expect(err.message.startsWith(join(dir, 'eval_results.json'))).toBe(true);
    expect(err.message).toMatch(message);
  });

  it('flat: a value column', () => {
    expect(resultsTable({ win_rate: 0.7, 'eval_rewards/accuracies': 0.8125, n: 64 })).toEqual({
      head: ['metric', 'value'],
      rows: [
        ['win_rate', '0.7'],
        ['eval_rewards/accuracies', '0.8125'],
        ['n', '64'],
      ],
    });
  });

  it('grouped (per model, or before/after): a column per group, blanks where a group lacks a name', () => {
    expect(
      resultsTable({ base: { win_rate: 0.5, loss: 0.693147 }, tuned: { win_rate: 0.712345678, judge: 'gpt' } }),
    ).toEqual({
      head: ['metric', 'base', 'tuned'],
      rows: [
        ['win_rate', '0.5', '0.712346'],
        ['loss', '0.693147', ''],
        ['judge', '', 'gpt'],
      ],
    });
  });

  it('mixed, with nulls and deeper values: shown, not dropped', () => {
    expect(resultsTable({ samples: 8, missing: null, after: { win_rate: 0.75, per_length: { short: 0.8 } } })).toEqual({
      head: ['metric', 'value', 'after'],
      rows: [
        ['samples', '8', ''],
        ['missing', '—', ''],
        ['win_rate', '', '0.75'],
        ['per_length', '', '{"short":0.8}'],
      ],
    });
  });
});
