// report_to: tensorboard, as transformers 5.18's TensorBoardCallback (integrations/integration_utils.py) does it:
// one event file in TENSORBOARD_LOGGING_DIR, else output_dir/runs/<Mon><DD>_<HH>-<MM>-<SS>_<hostname>
// (default_logdir); at train begin the text summaries `args` (the resolved config as JSON) and `model_config`; then
// every log entry's numbers as scalars at its step, renamed by rewrite_logs (eval_x → eval/x, test_x → test/x,
// anything else → train/x), flushed after each entry. The file's bytes are those torch's SummaryWriter writes.
import { open, mkdir, type FileHandle } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import type { Reporter } from './reporters.js';
import { eventBytes, FILE_VERSION, scalarSummary, textSummary, tfRecord } from './tensorboard-events.js';

/** transformers' rewrite_logs: the tag each log key gets. */
export function tensorboardTag(key: string): string {
  if (key.startsWith('eval_')) return `eval/${key.slice(5)}`;
  if (key.startsWith('test_')) return `test/${key.slice(5)}`;
  return `train/${key}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** default_logdir(): runs/<%b%d_%H-%M-%S>_<hostname>, in local time as datetime.now(). */
export function defaultLogDir(now = new Date(), host = hostname()): string {
  const time = `${MONTHS[now.getMonth()]}${two(now.getDate())}_${two(now.getHours())}-${two(now.getMinutes())}-${two(now.getSeconds())}`;
  return join('runs', `${time}_${host}`);
}

/**
 * The folder of a run's event file. `logging_dir` is the TrainingArguments key transformers 4 had (5.18 reads
 * TENSORBOARD_LOGGING_DIR instead); a recipe that still sets it gets its folder.
 */
export function tensorboardLogDir(
  config: { output_dir: string | null; logging_dir: string | null },
  env = process.env,
  now = new Date(),
): string {
  const expandUser = (path: string) => (path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path);
  if (config.logging_dir) return expandUser(config.logging_dir);
  if (env.TENSORBOARD_LOGGING_DIR) return expandUser(env.TENSORBOARD_LOGGING_DIR);
  return join(config.output_dir!, defaultLogDir(now));
}

/** EventFileWriter's process-wide counter, the last part of an event file's name. */
let fileCount = 0;

/** An open event file, as torch's SummaryWriter writes one (add_scalar, add_text, flush after each batch of events). */
export class EventFileWriter {
  readonly path: string;
  readonly #file: FileHandle;
  readonly #clock: () => number;

  private constructor(path: string, file: FileHandle, clock: () => number) {
    this.path = path;
    this.#file = file;
    this.#clock = clock;
  }

  /**
   * Creates `logDir` and events.out.tfevents.<seconds, 10 digits>.<hostname>.<pid>.<n> in it, starting with the
   * file_version event, which names the `writer` program. `clock` gives each event's wall time in seconds.
   */
  static async create(logDir: string, options: TensorBoardOptions = {}): Promise<EventFileWriter> {
    const clock = options.clock ?? (() => Date.now() / 1000);
    await mkdir(logDir, { recursive: true });
    const wallTime = clock();
    const name = `events.out.tfevents.${String(Math.floor(wallTime)).padStart(10, '0')}.${hostname()}.${process.pid}.${fileCount++}`;
    const path = join(logDir, name);
    const file = await open(path, 'wx');
    const writer = new EventFileWriter(path, file, clock);
    await writer.#write([
      tfRecord(eventBytes({ wallTime, fileVersion: FILE_VERSION, writer: options.writer ?? 'alignkit' })),
    ]);
    return writer;
  }

  /** Scalars, each at `step` with its own wall time, written and flushed together. */
  async addScalars(values: [tag: string, value: number][], step: number): Promise<void> {
    await this.#write(
      values.map(([tag, value]) =>
        tfRecord(eventBytes({ wallTime: this.#clock(), step, summary: scalarSummary(tag, value) })),
      ),
    );
  }

  /** One text summary (tag `<tag>/text_summary`); step 0 is add_text's global_step=None. */
  async addText(tag: string, text: string, step = 0): Promise<void> {
    await this.#write([tfRecord(eventBytes({ wallTime: this.#clock(), step, summary: textSummary(tag, text) }))]);
  }

  async #write(records: Uint8Array[]): Promise<void> {
    await this.#file.write(Buffer.concat(records));
  }

  async close(): Promise<void> {
    await this.#file.close();
  }
}

/**
 * TensorBoardCallback.on_log: a log entry's numbers (not `step`, which the Trainer keeps apart) as scalars at the
 * entry's step, in the entry's order.
 */
export function entryScalars(entry: Record<string, number>): [tag: string, value: number][] {
  return Object.entries(entry)
    .filter(([key, value]) => key !== 'step' && typeof value === 'number')
    .map(([key, value]) => [tensorboardTag(key), value]);
}

export interface TensorBoardOptions {
  /** Each event's wall time in seconds (default: now). */
  clock?: () => number;
  /** The file's SourceMetadata.writer (default alignkit; tensorboard's own EventFileWriter writes its module name). */
  writer?: string;
}

export interface TensorBoardReporter extends Reporter {
  /** The event file. */
  readonly path: string;
}

/**
 * TensorBoardCallback for one run: on_train_begin writes the `args` text (the resolved config as JSON) and the
 * `model_config` text (the model's config.json) when there is one; on_log every entry's scalars; on_train_end closes.
 */
export async function openTensorBoard(
  config: { output_dir: string | null; logging_dir: string | null },
  options: TensorBoardOptions & { argsText: string; modelConfigText?: string },
): Promise<TensorBoardReporter> {
  const writer = await EventFileWriter.create(tensorboardLogDir(config), options);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await writer.close();
  };
  try {
    await writer.addText('args', options.argsText);
    if (options.modelConfigText !== undefined) await writer.addText('model_config', options.modelConfigText);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    path: writer.path,
    log: (entry) => writer.addScalars(entryScalars(entry), entry.step ?? 0),
    trainEnd: close,
    close,
  };
}
