// What `alignkit train` prints: a progress bar on a terminal (a stream that says it is a TTY), plain lines elsewhere.
import { stripVTControlCharacters } from 'node:util';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { trainReporter } from '../../src/cli/train-progress.js';

function fakeTerminal(): NodeJS.WriteStream & { text: () => string } {
  let written = '';
  const stream = new Writable({
    write(chunk, _, done) {
      written += chunk;
      done();
    },
  });
  return Object.assign(stream, {
    isTTY: true,
    columns: 120,
    text: () => stripVTControlCharacters(written),
  }) as unknown as NodeJS.WriteStream & { text: () => string };
}

const entry = {
  loss: 0.6931,
  grad_norm: 4.5,
  learning_rate: 1e-3,
  'rewards/margins': 0.0123,
  'rewards/accuracies': 0.5,
  epoch: 0.1,
  step: 1,
};

afterEach(() => vi.restoreAllMocks());

describe('train progress', () => {
  it('draws step/max_steps, loss, margin and elapsed<ETA on a terminal, with log entries above the bar', () => {
    const terminal = fakeTerminal();
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const reporter = trainReporter({ interactive: true, stream: terminal });
    reporter.onStep({ step: 0, maxSteps: 10, epoch: 0 });
    reporter.onStep({ step: 1, maxSteps: 10, epoch: 0.1 });
    reporter.onLog(entry, { step: 1, maxSteps: 10, epoch: 0.1 });
    reporter.note('a note');
    reporter.stop();
    const text = terminal.text();
    expect(text).toMatch(/train \|[█░]{30}\| 1\/10 \| loss 0\.6931 \| margin 0\.01230 \| 0m00s<0m00s/);
    expect(text).toContain('step 1/10  loss 0.6931  margin 0.01230  acc 0.5000  lr 0.001000  ETA 0m00s\n');
    expect(text).toContain('a note\n');
    expect(log).not.toHaveBeenCalled();
  });

  it('prints one plain line per log entry elsewhere, and leaves the summary to the command', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const reporter = trainReporter({ interactive: false });
    reporter.onStep({ step: 0, maxSteps: 10, epoch: 0 });
    reporter.onLog(entry, { step: 1, maxSteps: 10, epoch: 0.1 });
    reporter.onLog(
      { eval_loss: 0.5, 'eval_rewards/margins': 0.25, epoch: 0.1, step: 1 },
      { step: 1, maxSteps: 10, epoch: 0.1 },
    );
    reporter.onLog({ train_runtime: 1, train_loss: 0.6, epoch: 1, step: 10 }, { step: 10, maxSteps: 10, epoch: 1 });
    reporter.stop();
    expect(log.mock.calls.map(([line]) => line)).toEqual([
      expect.stringMatching(/^step 1\/10  loss 0\.6931  margin 0\.01230  acc 0\.5000  lr 0\.001000  ETA \d+m\d\ds$/),
      'eval  step 1: loss 0.5000  margin 0.2500',
    ]);
  });

  it('shows SFT entries with their token accuracy', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const reporter = trainReporter({ interactive: false });
    reporter.onStep({ step: 0, maxSteps: 10, epoch: 0 });
    reporter.onLog(
      { loss: 2.5, learning_rate: 1e-3, entropy: 4.2, mean_token_accuracy: 0.25, num_tokens: 90, epoch: 0.1, step: 1 },
      { step: 1, maxSteps: 10, epoch: 0.1 },
    );
    reporter.onLog(
      { eval_loss: 2, eval_mean_token_accuracy: 0.5, eval_num_tokens: 90, epoch: 0.1, step: 1 },
      { step: 1, maxSteps: 10, epoch: 0.1 },
    );
    expect(log.mock.calls.map(([line]) => line)).toEqual([
      expect.stringMatching(/^step 1\/10  loss 2\.500  acc 0\.2500  lr 0\.001000  ETA \d+m\d\ds$/),
      'eval  step 1: loss 2.000  acc 0.5000',
    ]);
  });

  it('shows online_dpo rounds, the bar growing by each round’s steps', () => {
    const terminal = fakeTerminal();
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const reporter = trainReporter({ interactive: true, stream: terminal });
    // Round 1's entry comes before the first step, so before the bar.
    reporter.onLog(
      { round: 1, 'online/pairs': 20, 'online/ties': 28, 'online/score_mean': 0.25, step: 0 },
      { step: 0, maxSteps: 0, epoch: 0 },
    );
    reporter.onStep({ step: 0, maxSteps: 8, epoch: 0 });
    reporter.onStep({ step: 8, maxSteps: 8, epoch: 1 });
    reporter.onLog(
      { round: 2, 'online/pairs': 30, 'online/ties': 18, 'online/score_mean': 0.59375, step: 8 },
      { step: 8, maxSteps: 8, epoch: 0 },
    );
    reporter.onStep({ step: 9, maxSteps: 12, epoch: 0.25 });
    reporter.stop();
    expect(log.mock.calls.map(([line]) => line)).toEqual(['round 1: 20 pairs, 28 ties  score 0.2500']);
    const text = terminal.text();
    expect(text).toContain('round 2: 30 pairs, 18 ties  score 0.5938\n');
    expect(text).toMatch(/\| 9\/12 \|/);
  });

  it('shows KTO entries with their KL estimate', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const reporter = trainReporter({ interactive: false });
    reporter.onStep({ step: 0, maxSteps: 10, epoch: 0 });
    reporter.onLog(
      {
        loss: 0.5,
        learning_rate: 1e-3,
        kl: 0.25,
        'rewards/margins': 0.125,
        entropy: 4.2,
        num_tokens: 90,
        epoch: 0.1,
        step: 1,
      },
      { step: 1, maxSteps: 10, epoch: 0.1 },
    );
    expect(log.mock.calls.map(([line]) => line)).toEqual([
      expect.stringMatching(/^step 1\/10  loss 0\.5000  margin 0\.1250  kl 0\.2500  lr 0\.001000  ETA \d+m\d\ds$/),
    ]);
  });
});
