// report_to: tensorboard. The event file alignkit writes for a log history is byte for byte the one transformers'
// TensorBoardCallback writes through torch's SummaryWriter (scripts/fixtures/make_tensorboard_events.py, pinned wall
// times); the test's own reader decodes it as TensorBoard's EventAccumulator did; a real training run's events hold
// every metrics.jsonl value under the Trainer's tags. report_to's other values: notes and refusals.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load-config.js';
import { train } from '../../src/index.js';
import { checkReporting, reportTargets } from '../../src/report/reporters.js';
import { crc32c, maskedCrc32c } from '../../src/report/tensorboard-events.js';
import { defaultLogDir, openTensorBoard, tensorboardLogDir, tensorboardTag } from '../../src/report/tensorboard.js';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';
import { readEvents } from './event-reader.js';

const dir = join(fixturesDir, 'tensorboard');
const inputs = JSON.parse(readFileSync(join(dir, 'log-history.json'), 'utf8')) as {
  args_text: string;
  model_config_text: string;
  file_wall_time: number;
  entries: { wall_time: number; entry: Record<string, number> }[];
};
const callbackEvents = new Uint8Array(readFileSync(join(dir, 'callback.tfevents')));
const readBack = JSON.parse(readFileSync(join(dir, 'read-back.json'), 'utf8')) as {
  file_version: number;
  scalars: Record<string, [number, number, number][]>;
  texts: Record<string, [number, number, string][]>;
};

function eventFiles(logDir: string): string[] {
  return readdirSync(logDir)
    .filter((name) => name.startsWith('events.out.tfevents.'))
    .map((name) => join(logDir, name));
}

describe('event file format', () => {
  it('computes CRC-32C and its TFRecord masking', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    // masked = rotr15(crc) + 0xa282ead8 (tensorboard's masked_crc32c)
    const crc = crc32c(new TextEncoder().encode('abc'));
    expect(maskedCrc32c(new TextEncoder().encode('abc'))).toBe((((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0);
  });

  it("writes the bytes transformers' TensorBoardCallback writes for the same log history", async () => {
    const out = tempDir('tb-bytes');
    let now = inputs.file_wall_time;
    const reporter = await openTensorBoard(
      { output_dir: out, logging_dir: join(out, 'run') },
      {
        argsText: inputs.args_text,
        modelConfigText: inputs.model_config_text,
        clock: () => now,
        writer: 'tensorboard.summary.writer.event_file_writer',
      },
    );
    for (const { wall_time, entry } of inputs.entries) {
      now = wall_time;
      await reporter.log!(entry);
    }
    await reporter.close();
    const [file] = eventFiles(join(out, 'run'));
    expect(file).toBe(reporter.path);
    expect(file).toMatch(new RegExp(`events\\.out\\.tfevents\\.1700000000\\.${hostname()}\\.${process.pid}\\.\\d+$`));
    const ours = new Uint8Array(readFileSync(file!));
    expect(ours.length).toBe(callbackEvents.length);
    expect(Buffer.from(ours).equals(Buffer.from(callbackEvents))).toBe(true);
  });

  it("reads the callback's file as TensorBoard's EventAccumulator read it", () => {
    const events = readEvents(callbackEvents);
    expect(events[0]).toEqual({
      wallTime: inputs.file_wall_time,
      step: 0,
      fileVersion: 'brain.Event:2',
      writer: 'tensorboard.summary.writer.event_file_writer',
    });
    expect(readBack.file_version).toBe(2);
    const scalars: Record<string, [number, number, number][]> = {};
    const texts: Record<string, [number, number, string][]> = {};
    for (const { value, step, wallTime } of events.slice(1)) {
      if (value!.scalar !== undefined) (scalars[value!.tag] ??= []).push([step, wallTime, value!.scalar]);
      else {
        expect(value!.plugin).toBe('text');
        (texts[value!.tag] ??= []).push([step, wallTime, value!.text!]);
      }
    }
    expect(scalars).toEqual(readBack.scalars);
    expect(texts).toEqual(readBack.texts);
    expect(Object.keys(texts)).toEqual(['args/text_summary', 'model_config/text_summary']);
    expect(Object.keys(scalars)).toEqual(
      expect.arrayContaining([
        'train/loss',
        'train/learning_rate',
        'train/grad_norm',
        'train/epoch',
        'eval/loss',
        'eval/rewards/chosen',
        'train/train_runtime',
        'train/train_loss',
        'train/total_flos',
      ]),
    );
  });
});

describe('TensorBoardCallback', () => {
  it('names tags as rewrite_logs does', () => {
    expect(
      ['loss', 'eval_loss', 'eval_rewards/margins', 'test_loss', 'train_runtime', 'learning_rate'].map(tensorboardTag),
    ).toEqual([
      'train/loss',
      'eval/loss',
      'eval/rewards/margins',
      'test/loss',
      'train/train_runtime',
      'train/learning_rate',
    ]);
  });

  it('writes into TENSORBOARD_LOGGING_DIR, else output_dir/runs/<Mon><DD>_<HH>-<MM>-<SS>_<host>; logging_dir (transformers 4) wins', () => {
    const when = new Date(2024, 0, 5, 9, 3, 7);
    expect(defaultLogDir(when, 'box')).toBe(join('runs', 'Jan05_09-03-07_box'));
    expect(tensorboardLogDir({ output_dir: 'out', logging_dir: null }, {}, when)).toBe(
      join('out', 'runs', `Jan05_09-03-07_${hostname()}`),
    );
    expect(tensorboardLogDir({ output_dir: 'out', logging_dir: null }, { TENSORBOARD_LOGGING_DIR: '~/tb' }, when)).toBe(
      join(homedir(), 'tb'),
    );
    expect(
      tensorboardLogDir({ output_dir: 'out', logging_dir: 'logs/x' }, { TENSORBOARD_LOGGING_DIR: '/tmp/tb' }, when),
    ).toBe('logs/x');
  });
});

describe('report_to', () => {
  const config = (extra: Record<string, unknown>) =>
    resolveConfig({ trainer: 'dpo', model_name_or_path: 'm', train_dataset: 'd', output_dir: 'o', ...extra });
  const notesOf = (extra: Record<string, unknown>) => {
    const notes: string[] = [];
    checkReporting(config(extra), (m) => notes.push(m));
    return notes;
  };

  it("resolves 'none', 'all', a name and a list as TrainingArguments does", () => {
    expect(config({}).report_to).toBe('none');
    // A single name stays as written (training_args.json reads back the same), a list stays a list.
    expect(config({ report_to: 'tensorboard' }).report_to).toBe('tensorboard');
    expect(config({ report_to: ['tensorboard'] }).report_to).toEqual(['tensorboard']);
    expect(reportTargets(['none'])).toEqual([]);
    expect(reportTargets(['all'])).toEqual(['tensorboard']);
    expect(reportTargets(['tensorboard', 'wandb'])).toEqual(['tensorboard', 'wandb']);
    expect(reportTargets([])).toEqual([]);
  });

  it('refuses an unknown integration at config load, and none/all inside a list', () => {
    expect(() => config({ report_to: 'tensorbord' })).toThrow(/'report_to' must be one or a list of .*tensorboard/);
    expect(() => notesOf({ report_to: ['none', 'tensorboard'] })).toThrow(/report_to: 'none' stands alone/);
  });

  it('notes that wandb, mlflow, trackio... are not built in, and how onLog wires one up', () => {
    expect(notesOf({ report_to: 'none' })).toEqual([]);
    expect(notesOf({ report_to: ['tensorboard'] })).toEqual([]);
    const [note] = notesOf({ report_to: ['wandb', 'tensorboard', 'mlflow'] });
    expect(note).toMatch(
      /^note: report_to wandb, mlflow are not built in: metrics go to output_dir\/metrics\.jsonl; .*onLog/,
    );
    expect(notesOf({ report_to: 'all' })[0]).toMatch(
      /'all' reports to tensorboard, the one integration built into alignkit; the others are not built in/,
    );
    expect(notesOf({ logging_dir: 'logs' })).toEqual([
      "note: logging_dir is TensorBoard's folder; it has no effect without report_to: tensorboard",
    ]);
  });
});

describe('a training run with report_to: tensorboard', () => {
  const data = join(fixturesDir, 'trl', 'dpo-train.jsonl');
  const run = async (extra: Record<string, unknown>) => {
    const out = join(tempDir('tb-run'), 'dpo');
    const notes: string[] = [];
    await train(
      {
        trainer: 'dpo',
        model_name_or_path: modelDir('llama'),
        train_dataset: data,
        eval_dataset: data,
        output_dir: out,
        bf16: false,
        gradient_checkpointing: false,
        save_strategy: 'no',
        use_cpu: true,
        max_steps: 4,
        logging_steps: 1,
        eval_strategy: 'steps',
        eval_steps: 2,
        per_device_train_batch_size: 4,
        learning_rate: 1e-3,
        ...extra,
      },
      { log: (m) => notes.push(m) },
    );
    return { out, notes };
  };

  it("writes every metrics.jsonl value under the Trainer's tag at its step, after the args and model_config texts", async () => {
    const { out, notes } = await run({ report_to: ['tensorboard'], hub_token: 'hf_not_a_real_token' });
    expect(notes).toContain('note: hub_token has no effect: push_to_hub is false');
    const runs = readdirSync(join(out, 'runs'));
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatch(new RegExp(`^[A-Z][a-z]{2}\\d{2}_\\d{2}-\\d{2}-\\d{2}_${hostname()}$`));
    const [file] = eventFiles(join(out, 'runs', runs[0]!));
    const events = readEvents(new Uint8Array(readFileSync(file!)));
    expect(events[0]).toMatchObject({ fileVersion: 'brain.Event:2', writer: 'alignkit' });

    // args: the resolved config as training_args.json holds it, the token hidden in both.
    const trainingArgs = readFileSync(join(out, 'training_args.json'), 'utf8');
    expect(trainingArgs).not.toContain('hf_not_a_real_token');
    expect(JSON.parse(trainingArgs).hub_token).toBe('<HUB_TOKEN>');
    expect(events[1]!.value).toEqual({ tag: 'args/text_summary', text: trainingArgs.trimEnd(), plugin: 'text' });
    expect(events[2]!.value).toEqual({
      tag: 'model_config/text_summary',
      text: readFileSync(join(modelDir('llama'), 'config.json'), 'utf8'),
      plugin: 'text',
    });

    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>);
    expect(lines.some((l) => 'eval_loss' in l) && lines.some((l) => 'train_runtime' in l)).toBe(true);
    const want = lines.flatMap((line) =>
      Object.entries(line)
        .filter(([k]) => k !== 'step')
        .map(([key, value]) => ({ step: line.step!, tag: tensorboardTag(key), scalar: Math.fround(value) })),
    );
    const got = events.slice(3).map((e) => ({ step: e.step, tag: e.value!.tag, scalar: e.value!.scalar! }));
    expect(got).toEqual(want);
    expect([...new Set(got.map((g) => g.tag))]).toEqual(
      expect.arrayContaining(['train/loss', 'train/learning_rate', 'train/grad_norm', 'eval/loss']),
    );
  });

  it('writes no event file for report_to none, only metrics.jsonl', async () => {
    const { out } = await run({ report_to: 'none', max_steps: 2 });
    expect(existsSync(join(out, 'runs'))).toBe(false);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length).toBeGreaterThan(1);
  });
});
