#!/usr/bin/env node
// `alignkit` command line. Each subcommand is a thin shell over the library API.
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { AlignkitError } from '../errors.js';
import { registerDemo } from './demo-command.js';
import { registerEstimate } from './estimate-command.js';
import { registerEval } from './eval-command.js';
import { registerInfo } from './info-command.js';
import { registerInspect } from './inspect-command.js';
import { registerMerge } from './merge-command.js';
import { registerPreprocess } from './preprocess-command.js';
import { registerReport } from './report-command.js';
import { registerSetup } from './setup-command.js';
import { registerTrain } from './train-command.js';
import { registerTrlCommands } from './trl-command.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const program = new Command()
  .name('alignkit')
  .description('Preference alignment (DPO family) and SFT of Hugging Face models on libtorch')
  .version(version);
registerDemo(program);
registerEstimate(program);
registerEval(program);
registerInfo(program, version);
registerInspect(program);
registerMerge(program);
registerPreprocess(program);
registerReport(program);
registerSetup(program);
registerTrain(program);
registerTrlCommands(program);

try {
  await program.parseAsync();
} catch (err) {
  // Our errors already name the file and field: print them plainly, without a stack.
  if (err instanceof AlignkitError) {
    console.error(`alignkit: ${err.message} [${err.code}]`);
    process.exit(1);
  }
  // A system error no check foresaw (a disk filling up mid-run, a file removed under us) names its path and cause
  // in its message: one line too, not a stack.
  const sys = err as NodeJS.ErrnoException;
  if (err instanceof Error && typeof sys.syscall === 'string' && typeof sys.code === 'string') {
    console.error(`alignkit: ${err.message} [${sys.code}]`);
    process.exit(1);
  }
  throw err;
}
