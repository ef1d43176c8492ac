// What `alignkit train` shows while it trains. On a terminal: a cli-progress bar (step/max_steps, loss, the DPO
// reward margin or the SFT token accuracy, elapsed<ETA) with each log entry printed above it, as HF's ProgressCallback does with tqdm. Elsewhere
// (CI, pipes) or with disable_tqdm: one line per log entry, as HF's PrinterCallback.
import cliProgress from 'cli-progress';
import type { LogEntry, TrainProgress } from '../train/train-types.js';

export function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

const fmt = (v: number | undefined) => (v === undefined ? '-' : v.toPrecision(4));

// DPO's reward margin (a reward model's margin), or SFT's token accuracy (an SFT entry has no rewards).
const isSft = (entry: LogEntry, prefix = '') =>
  !(`${prefix}rewards/margins` in entry) && `${prefix}mean_token_accuracy` in entry;
const barMetric = (entry: LogEntry) =>
  isSft(entry) ? `acc ${fmt(entry.mean_token_accuracy)}` : `margin ${fmt(entry['rewards/margins'] ?? entry.margin)}`;

function logLine(entry: LogEntry, maxSteps: number, eta: string): string {
  if ('online/pairs' in entry) {
    return `round ${entry.round}: ${entry['online/pairs']} pairs, ${entry['online/ties']} ties  score ${fmt(entry['online/score_mean'])}`;
  }
  if ('eval_loss' in entry) {
    const metric = isSft(entry, 'eval_')
      ? `acc ${fmt(entry.eval_mean_token_accuracy)}`
      : `margin ${fmt(entry['eval_rewards/margins'] ?? entry.eval_margin)}`;
    return `eval  step ${entry.step}: loss ${fmt(entry.eval_loss)}  ${metric}`;
  }
  // DPO's reward accuracy beside the margin; KTO has none, its KL estimate instead.
  const second = 'kl' in entry ? `kl ${fmt(entry.kl)}` : `acc ${fmt(entry['rewards/accuracies'] ?? entry.accuracy)}`;
  const metrics = isSft(entry) ? barMetric(entry) : `${barMetric(entry)}  ${second}`;
  return `step ${entry.step}/${maxSteps}  loss ${fmt(entry.loss)}  ${metrics}  lr ${fmt(entry.learning_rate)}  ETA ${eta}`;
}

export interface TrainReporter {
  onStep(progress: TrainProgress): void;
  onLog(entry: LogEntry, progress: TrainProgress): void;
  /** A message for the user (notes, Ctrl-C); above the bar while there is one. */
  note(message: string): void;
  /** Draws the bar's last state and leaves it; the reporter prints plain lines from then on. */
  stop(): void;
}

/** `interactive`: draw the bar (and print log entries above it) on `stream`, a terminal; else plain lines. */
export function trainReporter({
  interactive,
  stream = process.stderr,
}: {
  interactive: boolean;
  stream?: NodeJS.WriteStream;
}): TrainReporter {
  let bars: cliProgress.MultiBar | undefined;
  let bar: cliProgress.SingleBar | undefined;
  // ETA from this session's steps: a resumed run starts at its checkpoint's step.
  let first: { step: number; time: number } | undefined;
  const timing = (step: number, maxSteps: number) => {
    const elapsed = first ? (performance.now() - first.time) / 1000 : 0;
    const done = first ? step - first.step : 0;
    return { elapsed: duration(elapsed), left: done > 0 ? duration((elapsed / done) * (maxSteps - step)) : '?' };
  };

  return {
    onStep({ step, maxSteps }) {
      first ??= { step, time: performance.now() };
      if (!interactive) return;
      if (!bars) {
        bars = new cliProgress.MultiBar(
          {
            format: 'train |{bar}| {value}/{total} | loss {loss} | {metric} | {elapsed}<{left}',
            barsize: 30,
            stream,
            gracefulExit: false,
            hideCursor: false,
          },
          cliProgress.Presets.shades_classic,
        );
        bar = bars.create(maxSteps, step, { loss: '-', metric: '-', ...timing(step, maxSteps) });
      }
      if (bar!.getTotal() !== maxSteps) bar!.setTotal(maxSteps); // online_dpo: each round adds its steps
      bar!.update(step, timing(step, maxSteps));
    },
    onLog(entry, { step, maxSteps }) {
      if ('train_runtime' in entry) return; // the command prints the summary when train() returns
      if ('loss' in entry) bar?.update({ loss: fmt(entry.loss), metric: barMetric(entry) });
      const text = logLine(entry, maxSteps, timing(step, maxSteps).left);
      if (bars) bars.log(`${text}\n`);
      else console.log(text);
    },
    note(message) {
      if (bars) bars.log(`${message}\n`);
      else console.error(message);
    },
    stop() {
      if (!bars) return;
      bars.update(); // flushes lines logged since the last redraw
      bars.stop();
      bars = bar = undefined;
    },
  };
}
