// One metric's chart: a Vega-Lite line chart (train and eval against step), laid out by Vega in Node without a
// canvas into SVG, which the HTML page inlines, and rasterised by resvg into the PNG beside it.
import type { TopLevelSpec } from 'vega-lite';
import type { Series, Split } from './series.js';

const COLORS: Record<Split, string> = { train: '#4c78a8', eval: '#f58518' };
// Families found on Linux, macOS and Windows; resvg and browsers take the first one installed. Unquoted: resvg
// 2.6 drops a list that mixes bare and quoted names and falls back to a serif.
const FONT = 'Helvetica, Arial, Liberation Sans, DejaVu Sans, sans-serif';
/** Past this many training points a marker on each would hide the line; evaluations, fewer, keep theirs. */
const MAX_TRAIN_MARKERS = 100;
/** PNG pixels per SVG pixel: sharp on high-density screens and in slides. */
export const PNG_SCALE = 2;

/** The chart as SVG, and as a PNG PNG_SCALE times its size. */
export interface Chart {
  svg: string;
  png: Buffer;
}

export function chartSpec({ metric, points }: Series): TopLevelSpec {
  const splits = (['train', 'eval'] as const).filter((s) => points.some((p) => p.split === s));
  const trainPoints = points.filter((p) => p.split === 'train').length;
  return {
    title: metric,
    // Every chart the same size, axes and legend included, so the page's grid lines up.
    width: 440,
    height: 260,
    autosize: { type: 'fit', contains: 'padding' },
    background: 'white',
    data: { values: points },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step', axis: { tickMinStep: 1 } },
      y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false, padding: 8 } },
      color: {
        field: 'split',
        type: 'nominal',
        title: null,
        scale: { domain: splits, range: splits.map((s) => COLORS[s]) },
        legend: splits.length > 1 ? { orient: 'top', direction: 'horizontal' } : null,
      },
    },
    layer: [
      { mark: { type: 'line', strokeWidth: 1.5 } },
      {
        mark: { type: 'point', filled: true, size: 24, opacity: 1 },
        transform: trainPoints > MAX_TRAIN_MARKERS ? [{ filter: "datum.split === 'eval'" }] : [],
      },
    ],
    // Room for the last step's tick label at the right edge.
    padding: { left: 5, top: 5, bottom: 5, right: 12 },
    config: { font: FONT },
  };
}

// Loaded with the first chart, not with alignkit: resident memory a training process never needs (docs/performance.md).
const chartLibraries = () => Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]);

export async function renderChart(series: Series): Promise<Chart> {
  const [{ parse, View }, { compile }, { Resvg }] = await chartLibraries();
  const view = new View(parse(compile(chartSpec(series)).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: PNG_SCALE }, font: { loadSystemFonts: true } })
    .render()
    .asPng();
  return { svg, png };
}
