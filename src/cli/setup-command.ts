// `alignkit setup`: what the install script does (libtorch, then the prebuilt or source-built addon), for
// installs where npm skipped it — npm >= 11 runs a dependency's install script only once approved.
import type { Command } from 'commander';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../native.js';

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('find or install libtorch and build or link the native addon (what `npm install` runs)')
    .action(async () => {
      const installer = pathToFileURL(join(packageRoot, 'scripts', 'install.mjs')).href;
      const { setup } = (await import(installer)) as { setup: () => unknown };
      setup();
    });
}
