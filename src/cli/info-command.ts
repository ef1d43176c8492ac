// `alignkit info`: torch version, CUDA availability and device, threads, addon path, libtorch origin.
import type { Command } from 'commander';
import { info } from '../info.js';

export function registerInfo(program: Command, version: string): void {
  program
    .command('info')
    .description('print the torch version, CUDA availability and device, threads, and the addon in use')
    .option('--json', 'print as JSON')
    .action((options: { json?: boolean }) => {
      const i = info();
      if (options.json) {
        console.log(JSON.stringify(i, null, 2));
        return;
      }
      const cuda = i.cudaAvailable ? `yes (${i.cudaDeviceCount} device${i.cudaDeviceCount === 1 ? '' : 's'})` : 'no';
      const rows: [string, string][] = [
        ['alignkit', version],
        ['torch', `${i.torchVersion} (${i.builtWithCuda ? 'CUDA' : 'CPU'} build)`],
        ['cuda', cuda],
        ['device', i.device],
        ['threads', String(i.threads)],
        ['addon', i.addonPath],
      ];
      rows.push([
        'libtorch',
        `${i.libtorch.version} at ${i.libtorch.root}${i.libtorch.source ? ` (${i.libtorch.source})` : ''}`,
      ]);
      if (i.install)
        rows.push([
          'install',
          `${i.install.variant === 'cuda' ? 'CUDA' : 'CPU'}, ${i.install.builtFromSource ? 'built from source' : 'prebuilt'}: ${i.install.reason}`,
        ]);
      else rows.push(['install', 'no record: `npx alignkit setup` has not run in this package']);
      for (const [key, value] of rows) console.log(`${key.padEnd(10)} ${value}`);
    });
}
