// report(): a training output folder → report.html (self-contained) and plots/<metric>.png. It reads what
// `alignkit train` writes there (metrics.jsonl, training_args.json) and, when present, eval_results.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { renderChart } from './chart.js';
import { renderPage } from './html.js';
import { readMetricsLog, type MetricsLog } from './metrics-log.js';
import { configTables } from './run-config.js';
import { metricSeries } from './series.js';
import { keyValueTable, readJsonObject, resultsTable, type Table } from './tables.js';

export interface ReportOptions {
  /** The folder for report.html and plots/ (created if needed). Default: the output folder itself. */
  out?: string;
}

export interface ReportResult {
  /** The path of report.html. */
  html: string;
  /** The paths of the PNG plots, one per chart, in the page's order. */
  plots: string[];
}

/** `rewards/margins` → `rewards-margins`: a metric's name as a file name. */
export const plotFileName = (metric: string) => `${metric.replace(/[^\w.-]+/g, '-')}.png`;

/** The end-of-training entry (runtime, speeds, train_loss); before it is logged, how far the log goes. */
function summary(log: MetricsLog): { table: Table; progress: string } {
  if (log.summary)
    return { table: keyValueTable(['metric', 'value'], log.summary), progress: `finished at step ${log.summary.step}` };
  const last = [...log.train, ...log.eval].reduce((a, b) => (b.step! >= a.step! ? b : a));
  return {
    table: keyValueTable(['metric', 'value'], { step: last.step, epoch: last.epoch ?? null }),
    progress: `not finished: last logged step ${last.step}`,
  };
}

export async function report(outputDir: string, options: ReportOptions = {}): Promise<ReportResult> {
  const log = await readMetricsLog(join(outputDir, 'metrics.jsonl'));
  const config = await readJsonObject(join(outputDir, 'training_args.json'));
  const evalResults = await readJsonObject(join(outputDir, 'eval_results.json'));
  const out = options.out ?? outputDir;
  await mkdir(join(out, 'plots'), { recursive: true });

  const charts: { metric: string; svg: string }[] = [];
  const plots: string[] = [];
  for (const series of metricSeries(log)) {
    const chart = await renderChart(series);
    const png = join(out, 'plots', plotFileName(series.metric));
    await writeFile(png, chart.png);
    charts.push({ metric: series.metric, svg: chart.svg });
    plots.push(png);
  }

  const { table, progress } = summary(log);
  const trainer = typeof config?.trainer === 'string' ? `trainer: ${config.trainer}` : 'no training_args.json';
  const html = join(out, 'report.html');
  await writeFile(
    html,
    renderPage({
      title: `alignkit report: ${basename(resolve(outputDir))}`,
      subtitle: [resolve(outputDir), trainer, progress].join(' · '),
      summary: table,
      charts,
      evalResults: evalResults && resultsTable(evalResults),
      config: config && configTables(config),
    }),
  );
  return { html, plots };
}
