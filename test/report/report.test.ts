// report() on the output folders of real DPO and SFT runs (training-runs.ts): every metric metrics.jsonl logs is
// drawn, point for point (the labels Vega gives each point, 12 significant digits, against metrics.jsonl), train
// and eval in one chart; the PNGs are the charts at twice their size; the page holds the summary, the config and
// eval_results.json. The browser's rendering of the page is checked in report-browser.test.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load-config.js';
import { report } from '../../src/index.js';
import { PNG_SCALE } from '../../src/report/chart.js';
import { plotFileName } from '../../src/report/report.js';
import { tempDir } from '../helpers/fixtures.js';
import { dpoRun, expectedPoints, metricsLines, sftRun } from './training-runs.js';

interface Figure {
  metric: string;
  width: number;
  height: number;
  points: { step: number; value: number; split: string }[];
  /** Vertices of each line, by split. */
  lines: Record<string, number>;
}

/** The charts of report.html as drawn: each one's SVG size, point marks and line vertices. */
function figures(html: string): Figure[] {
  return [...html.matchAll(/<figure class="chart" data-metric="([^"]+)">(.*?)<\/figure>/gs)].map(([, metric, svg]) => {
    const [, width, height] = /<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg!)!;
    const label =
      /aria-label="step: ([^;]+); value: ([^;]+); split: (\w+)" role="graphics-symbol" aria-roledescription="(point|line mark)"(?: transform="[^"]*")? d="([^"]*)"/g;
    const points: Figure['points'] = [];
    const lines: Record<string, number> = {};
    for (const [, step, value, split, role, d] of svg!.matchAll(label)) {
      // d3-format writes negatives with U+2212, the typographic minus.
      if (role === 'point')
        points.push({ step: Number(step), value: Number(value!.replace('\u2212', '-')), split: split! });
      else lines[split!] = d!.split(/[ML]/).filter(Boolean).length;
    }
    return { metric: metric!, width: Number(width), height: Number(height), points, lines };
  });
}

const byStep = (a: { step: number; split: string }, b: { step: number; split: string }) =>
  a.split.localeCompare(b.split) || a.step - b.step;

function expectChartsMatchMetrics(dir: string, html: string) {
  const expected = expectedPoints(dir);
  const drawn = figures(html);
  expect(drawn.map((f) => f.metric).sort()).toEqual([...expected.keys()].sort());
  for (const figure of drawn) {
    const want = expected.get(figure.metric)!.sort(byStep);
    const got = figure.points.sort(byStep);
    expect(
      got.map(({ step, split }) => ({ step, split })),
      figure.metric,
    ).toEqual(want.map(({ step, split }) => ({ step, split })));
    got.forEach((p, i) =>
      expect(Math.abs(p.value - want[i]!.value), `${figure.metric} ${p.split} step ${p.step}`).toBeLessThanOrEqual(
        1e-10 * Math.max(1, Math.abs(want[i]!.value)),
      ),
    );
    for (const split of ['train', 'eval']) {
      const n = want.filter((p) => p.split === split).length;
      if (n > 0) expect(figure.lines[split], `${figure.metric} ${split} line`).toBe(n);
    }
  }
}

describe('report on a DPO run', () => {
  let dir: string;
  let html: string;
  let plots: string[];
  beforeAll(async () => {
    dir = await dpoRun('report-dpo');
    writeFileSync(
      join(dir, 'eval_results.json'),
      JSON.stringify({
        samples: 8,
        judge: 'llama',
        before: { win_rate: 0.5, 'eval_rewards/accuracies': 0.25 },
        after: { win_rate: 0.75, 'eval_rewards/accuracies': 1 },
      }),
    );
    const result = await report(dir);
    expect(result.html).toBe(join(dir, 'report.html'));
    html = readFileSync(result.html, 'utf8');
    plots = result.plots;
  });

  it('draws every metric of metrics.jsonl, training and evaluation values point for point', () => {
    expectChartsMatchMetrics(dir, html);
    const drawn = figures(html);
    expect(drawn.slice(0, 5).map((f) => f.metric)).toEqual([
      'loss',
      'rewards/margins',
      'rewards/accuracies',
      'mean_token_accuracy',
      'learning_rate',
    ]);
    expect(
      drawn
        .find((f) => f.metric === 'loss')!
        .points.filter((p) => p.split === 'eval')
        .map((p) => p.step),
    ).toEqual([2, 4, 6]);
    expect(drawn.every((f) => f.width === 440 && f.height === 260)).toBe(true);
  });

  it('writes each chart as a PNG at twice its size, with its train and eval lines in it', () => {
    const drawn = figures(html);
    expect(plots).toEqual(drawn.map((f) => join(dir, 'plots', plotFileName(f.metric))));
    expect(plots).toContain(join(dir, 'plots', 'rewards-margins.png'));
    drawn.forEach((figure, i) => {
      const png = PNG.sync.read(readFileSync(plots[i]!));
      expect([png.width, png.height], figure.metric).toEqual([figure.width * PNG_SCALE, figure.height * PNG_SCALE]);
      const count = (rgb: number[]) => {
        let n = 0;
        for (let p = 0; p < png.data.length; p += 4) {
          if (rgb.every((c, k) => Math.abs(png.data[p + k]! - c) < 24)) n++;
        }
        return n;
      };
      // Measured: at least 1535 train and 1712 eval pixels; a legend symbol alone is about 400 (100 px² at 2x).
      expect(count([0x4c, 0x78, 0xa8]), `${figure.metric} train`).toBeGreaterThan(1000);
      if (figure.lines.eval) expect(count([0xf5, 0x85, 0x18]), `${figure.metric} eval`).toBeGreaterThan(1000);
    });
  });

  it('is one self-contained page: no script, nothing fetched', () => {
    expect(html).not.toMatch(/<script|<link|<img|\bsrc=|url\(/i);
    expect(html).not.toMatch(/href="(?!#)/);
  });

  it('shows the summary entry, the config keys set and eval_results.json, flat and grouped', () => {
    const summary = metricsLines(dir).at(-1)!;
    expect(html).toContain(`<tr><td>train_loss</td><td>${Number(summary.train_loss!.toPrecision(6))}</td></tr>`);
    expect(html).toContain(`trainer: dpo · finished at step 6`);
    expect(html).toContain('<tr><td>beta</td><td>0.2</td></tr>');
    expect(html).toContain('<tr><td>eval_steps</td><td>2</td></tr>');
    // A default (loss_type sigmoid) is in the full table only.
    expect(html.split('<details>')[0]).not.toContain('<td>loss_type</td>');
    expect(html.split('<details>')[1]).toContain('<tr><td>loss_type</td><td>[&quot;sigmoid&quot;]</td></tr>');
    expect(html).toContain('<thead><tr><th>metric</th><th>value</th><th>before</th><th>after</th></tr></thead>');
    expect(html).toContain('<tr><td>samples</td><td>8</td><td></td><td></td></tr>');
    expect(html).toContain('<tr><td>judge</td><td>llama</td><td></td><td></td></tr>');
    expect(html).toContain('<tr><td>win_rate</td><td></td><td>0.5</td><td>0.75</td></tr>');
  });

  it('training_args.json is the resolved config, which a config loader reads back', () => {
    const saved = JSON.parse(readFileSync(join(dir, 'training_args.json'), 'utf8'));
    expect(saved).toMatchObject({ trainer: 'dpo', beta: 0.2, eval_steps: 2, loss_type: ['sigmoid'] });
    expect(resolveConfig(saved)).toEqual(saved);
  });

  it('--out puts the page and plots elsewhere; a run without a summary entry is reported as not finished', async () => {
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    const running = tempDir('report-running');
    writeFileSync(join(running, 'metrics.jsonl'), lines.slice(0, 3).join('\n') + '\n');
    const out = join(tempDir('report-out'), 'nested');
    const result = await report(running, { out });
    expect(result.html).toBe(join(out, 'report.html'));
    expect(result.plots.every((p) => p.startsWith(join(out, 'plots')))).toBe(true);
    const page = readFileSync(result.html, 'utf8');
    expect(page).toContain('no training_args.json · not finished: last logged step 2');
    expect(page).not.toContain('<h2>Config</h2>');
    expect(page).not.toContain('<h2>Evaluation results</h2>');
    expectChartsMatchMetrics(running, page);
  });
});

describe('report on a long run', () => {
  it('draws more than 100 training logs as a line without markers; evaluations keep theirs', async () => {
    const dir = tempDir('report-long');
    const lines = Array.from({ length: 150 }, (_, i) =>
      JSON.stringify({ loss: 1 / (i + 1), learning_rate: 1e-5, epoch: i / 150, step: i + 1 }),
    );
    for (const step of [50, 100, 150]) lines.push(JSON.stringify({ eval_loss: 2 / step, epoch: step / 150, step }));
    writeFileSync(join(dir, 'metrics.jsonl'), lines.join('\n') + '\n');
    const [loss] = figures(readFileSync((await report(dir)).html, 'utf8'));
    expect(loss!.metric).toBe('loss');
    expect(loss!.lines).toEqual({ train: 150, eval: 3 });
    expect(loss!.points.map((p) => `${p.split} ${p.step}`)).toEqual(['eval 50', 'eval 100', 'eval 150']);
  });
});

describe('report on an SFT run', () => {
  it("draws SFT's token accuracy and entropy, no reward charts", async () => {
    const dir = await sftRun('report-sft');
    const html = readFileSync((await report(dir)).html, 'utf8');
    expectChartsMatchMetrics(dir, html);
    const metrics = figures(html).map((f) => f.metric);
    expect(metrics.slice(0, 3)).toEqual(['loss', 'mean_token_accuracy', 'learning_rate']);
    expect(metrics).toContain('entropy');
    expect(metrics.some((m) => m.startsWith('rewards/'))).toBe(false);
    expect(html).toContain('trainer: sft · finished at step 6');
  });
});
