// Reads output_dir/metrics.jsonl, the log history `alignkit train` writes (trainer-loop.ts), and sorts its
// entries the way the Trainer logged them: training logs, evaluations (eval_* keys) and the end-of-training
// summary (train_runtime, train_loss, ...).
import { readFile } from 'node:fs/promises';
import { AlignkitError } from '../errors.js';
import type { LogEntry } from '../train/train-types.js';

export interface MetricsLog {
  train: LogEntry[];
  eval: LogEntry[];
  /** The entry logged when training ended; absent while a run is going or after it was stopped. */
  summary?: LogEntry;
}

const invalid = (where: string, message: string) => new AlignkitError('ERR_INVALID_DATA', `${where}: ${message}`);

/**
 * One line: an object of numbers with a numeric `step`. JSON has no NaN or Infinity (JSON.stringify writes a
 * diverged loss as null), so a null value is kept out of the entry and so out of its chart.
 */
function parseEntry(line: string, where: string): LogEntry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw invalid(where, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(where, 'expected a JSON object of named numbers');
  const entry: LogEntry = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === null) continue;
    if (typeof v !== 'number') throw invalid(where, `'${key}' must be a number or null, got ${JSON.stringify(v)}`);
    entry[key] = v;
  }
  if (entry.step === undefined) throw invalid(where, "has no numeric 'step'");
  return entry;
}

export async function readMetricsLog(path: string): Promise<MetricsLog> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AlignkitError(
      'ERR_NOT_FOUND',
      `${path}: cannot be read (${(err as Error).message}); alignkit train writes it to output_dir`,
    );
  }
  const log: MetricsLog = { train: [], eval: [] };
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const entry = parseEntry(line, `${path}:${i + 1}`);
    if ('train_runtime' in entry) log.summary = entry;
    else if (Object.keys(entry).some((key) => key.startsWith('eval_'))) log.eval.push(entry);
    else log.train.push(entry);
  });
  if (log.train.length + log.eval.length === 0) throw invalid(path, 'holds no training or evaluation log entries yet');
  return log;
}
