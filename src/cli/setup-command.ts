// `alignkit setup`: what the install script does (pick CPU or CUDA, then libtorch and the prebuilt or source-built
// addon), for installs where npm skipped it (--ignore-scripts, or a package denied in allowScripts) or to redo it.
import type { Command } from 'commander';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../native.js';

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('pick CPU or CUDA, install libtorch and the prebuilt addon, or build it (what `npm install` runs)')
    .option('--verbose', "show the compiler's output when the addon is built from source")
    .action(async (options: { verbose?: boolean }) => {
      const installer = pathToFileURL(join(packageRoot, 'scripts', 'install.mjs')).href;
      const { setup } = (await import(installer)) as { setup: (options: { verbose?: boolean }) => unknown };
      // Without the flag, ALIGNKIT_VERBOSE=1 still turns the compiler's output on (install.mjs reads it).
      setup(options.verbose ? { verbose: true } : {});
    });
}
