// report.html: one self-contained page (inline SVG charts and style, no script, nothing fetched), readable offline
// and attachable to an issue as it is.
import type { Table } from './tables.js';

export interface ReportPage {
  title: string;
  /** Under the title: the output folder, the trainer, how far training got. */
  subtitle: string;
  summary: Table;
  charts: { metric: string; svg: string }[];
  evalResults?: Table;
  config?: { set: Table; all: Table };
}

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function table({ head, rows }: Table): string {
  const row = (cells: string[], tag: 'th' | 'td') =>
    `<tr>${cells.map((c) => `<${tag}>${escape(c)}</${tag}>`).join('')}</tr>`;
  return `<table><thead>${row(head, 'th')}</thead><tbody>${rows.map((r) => row(r, 'td')).join('')}</tbody></table>`;
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 1280px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .subtitle { color: #666; margin-top: 0; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure.chart { margin: 0; border: 1px solid #e4e4e4; border-radius: 4px; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 0.2rem 0.8rem 0.2rem 0; text-align: left; font-variant-numeric: tabular-nums; }
details summary { cursor: pointer; color: #444; }`;

export function renderPage(page: ReportPage): string {
  const sections = [
    `<h1>${escape(page.title)}</h1>\n<p class="subtitle">${escape(page.subtitle)}</p>`,
    `<h2>Summary</h2>\n${table(page.summary)}`,
    `<h2>Metrics by step</h2>\n<div class="charts">\n${page.charts
      .map((c) => `<figure class="chart" data-metric="${escape(c.metric)}">${c.svg}</figure>`)
      .join('\n')}\n</div>`,
  ];
  if (page.evalResults) sections.push(`<h2>Evaluation results</h2>\n${table(page.evalResults)}`);
  if (page.config) {
    sections.push(
      `<h2>Config</h2>\n<p>Keys set away from TRL's defaults:</p>\n${table(page.config.set)}\n` +
        `<details><summary>All ${page.config.all.rows.length} keys</summary>\n${table(page.config.all)}</details>`,
    );
  }
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(page.title)}</title>
<style>${STYLE}
</style>
</head>
<body>
${sections.join('\n')}
</body>
</html>
`;
}
