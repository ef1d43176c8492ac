// report.html in a real browser: headless Chromium (scripts/browser/chromium.mjs: one on PATH, else Debian's
// chromium-headless-shell, fetched once into node_modules/.cache) lays out every chart at its size with its lines
// and one mark per logged value, and its screenshot shows each chart's train and eval lines where the layout put it.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { chromium } from '../../scripts/browser/chromium.mjs';
import { report } from '../../src/index.js';
import { tempDir } from '../helpers/fixtures.js';
import { dpoRun, expectedPoints } from './training-runs.js';

interface Probe {
  page: [number, number];
  figures: {
    metric: string;
    width: number;
    height: number;
    /** The plotting area, in page pixels (the legend is above it). */
    plot: { x: number; y: number; width: number; height: number };
    lines: { split: string; length: number }[];
    /** Point marks with a box inside the chart's. */
    points: number;
  }[];
}

// Appended to a copy of the page (the report itself has no script): what the browser laid out, into the DOM.
const PROBE = `<script>
const figures = [...document.querySelectorAll('figure.chart')].map((figure) => {
  const svg = figure.querySelector('svg');
  const box = svg.getBoundingClientRect();
  const inside = (b) => b.width > 0 && b.left >= box.left && b.right <= box.right && b.top >= box.top && b.bottom <= box.bottom;
  const marks = (role) => [...svg.querySelectorAll('path[aria-roledescription="' + role + '"]')];
  const plot = svg.querySelector('.role-frame path.background').getBoundingClientRect();
  return {
    metric: figure.dataset.metric, width: box.width, height: box.height,
    plot: { x: plot.x + scrollX, y: plot.y + scrollY, width: plot.width, height: plot.height },
    lines: marks('line mark').map((p) => ({ split: /split: (\\w+)/.exec(p.getAttribute('aria-label'))[1], length: p.getTotalLength() })),
    points: marks('point').filter((p) => inside(p.getBoundingClientRect())).length,
  };
});
const probe = document.createElement('pre');
probe.id = 'probe';
probe.textContent = JSON.stringify({ figures, page: [document.documentElement.scrollWidth, document.documentElement.scrollHeight] });
document.body.append(probe);
</script>`;

const WIDTH = 1280;
const SCALE = 2;

describe('report.html in headless Chromium', () => {
  let browser: string;
  let dir: string;
  let profile: string;
  beforeAll(async () => {
    browser = chromium();
    profile = tempDir('chromium-profile');
    dir = await dpoRun('report-browser');
    await report(dir);
  }, 600_000);

  const run = (args: string[]) =>
    execFileSync(
      browser,
      ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${profile}`, ...args],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 },
    );

  function probe(): Probe {
    const page = join(dir, 'probe.html');
    writeFileSync(page, readFileSync(join(dir, 'report.html'), 'utf8').replace('</body>', `${PROBE}\n</body>`));
    const dom = run(['--dump-dom', `--window-size=${WIDTH},800`, `file://${page}`]);
    const text = /<pre id="probe">(.*?)<\/pre>/s.exec(dom)?.[1];
    expect(text, 'the probe ran').toBeDefined();
    return JSON.parse(text!.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&'));
  }

  it('lays out every chart at its size, with its lines and a mark per logged value', () => {
    const expected = expectedPoints(dir);
    const { figures } = probe();
    expect(figures.map((f) => f.metric).sort()).toEqual([...expected.keys()].sort());
    for (const figure of figures) {
      const points = expected.get(figure.metric)!;
      expect([figure.width, figure.height], figure.metric).toEqual([440, 260]);
      expect(figure.points, figure.metric).toBe(points.length);
      const splits = [...new Set(points.map((p) => p.split))];
      expect(figure.lines.map((l) => l.split).sort(), figure.metric).toEqual(splits.sort());
      // Every line spans its steps (a metric that stayed constant still has a horizontal line).
      for (const line of figure.lines) expect(line.length, `${figure.metric} ${line.split}`).toBeGreaterThan(50);
    }
  });

  it("a screenshot shows each chart's train and eval lines where the layout put them", () => {
    const { figures, page } = probe();
    const shot = join(dir, 'screenshot.png');
    // At 2 device pixels per CSS pixel a 1.5 px line covers whole pixels in its own colour, a flat one too.
    run([
      `--screenshot=${shot}`,
      `--window-size=${WIDTH},${page[1]}`,
      `--force-device-scale-factor=${SCALE}`,
      `file://${join(dir, 'report.html')}`,
    ]);
    const png = PNG.sync.read(readFileSync(shot));
    expect([png.width, png.height]).toEqual([WIDTH * SCALE, page[1] * SCALE]);
    const pixels = ({ plot }: Probe['figures'][number], rgb: number[]) => {
      let n = 0;
      for (let y = Math.ceil(plot.y * SCALE); y < (plot.y + plot.height) * SCALE; y++) {
        for (let x = Math.ceil(plot.x * SCALE); x < (plot.x + plot.width) * SCALE; x++) {
          const p = (y * png.width + x) * 4;
          if (rgb.every((c, k) => Math.abs(png.data[p + k]! - c) < 24)) n++;
        }
      }
      return n;
    };
    // Measured: at least 1054 train and 1299 eval pixels in a chart's plotting area; a blank one has none.
    for (const figure of figures) {
      expect(pixels(figure, [0x4c, 0x78, 0xa8]), `${figure.metric} train`).toBeGreaterThan(500);
      if (figure.lines.some((l) => l.split === 'eval'))
        expect(pixels(figure, [0xf5, 0x85, 0x18]), `${figure.metric} eval`).toBeGreaterThan(500);
    }
  });
});
