// torchrun's flags on `alignkit train` and `alignkit dpo|sft|kto`. With any of them (--nproc_per_node N) the command
// becomes the launcher of a data-parallel job: it starts the workers, each running the same command (`alignkit train
// <config>`, `alignkit dpo recipe.yaml --beta 0.2`...) with its other flags under torchrun's variables, and
// supervises them (src/distributed/launcher.ts).
import { type Command, InvalidArgumentError, Option } from 'commander';
import { fileURLToPath } from 'node:url';
import type { TrainConfig } from '../config/load-config.js';
import { launch, type LaunchOptions, validateLaunchOptions } from '../distributed/launcher.js';
import { onCtrlC } from './ctrl-c.js';

/** torchrun's flags, under its names; each is also accepted dashed (--nproc-per-node), as torchrun does. */
const FLAGS = [
  {
    name: 'nproc_per_node',
    arg: '<n>',
    about: 'data parallel: start n workers on this node (one per GPU, or per share of the CPU cores)',
  },
  { name: 'nnodes', arg: '<n>', about: 'nodes in the job', default: '1' },
  {
    name: 'node_rank',
    arg: '<r>',
    about: "this node's index, 0..nnodes-1 (node 0 hosts the rendezvous store)",
    default: '0',
  },
  { name: 'master_addr', arg: '<a>', about: 'address of node 0', default: '127.0.0.1' },
  { name: 'master_port', arg: '<p>', about: 'port of the rendezvous store on node 0', default: '29500' },
] as const;

type FlagName = (typeof FLAGS)[number]['name'];
const dashed = (name: string) => name.replaceAll('_', '-');
const camel = (name: string) => name.replace(/_(.)/g, (_, c: string) => c.toUpperCase());
const LAUNCHER_KEYS = new Set(FLAGS.flatMap(({ name }) => [name, camel(name)]));

/** Adds torchrun's flags to `command` (the dashed spellings hidden from the help). */
export function addLaunchOptions(command: Command): Command {
  for (const { name, arg, about, ...rest } of FLAGS) {
    const parse = (text: string): string | number => (name === 'master_addr' ? text : wholeNumber(text));
    const option = new Option(`--${name} ${arg}`, about).argParser(parse);
    command.addOption('default' in rest ? option.default(parse(rest.default)) : option);
    if (dashed(name) !== name) command.addOption(new Option(`--${dashed(name)} ${arg}`).argParser(parse).hideHelp());
  }
  return command;
}

/**
 * The launcher's options when the user gave any of torchrun's flags, else null (train in-process). Each worker runs
 * alignkit with `workerArgs` (the subcommand and its arguments) and the command's other flags.
 */
export function launchOptionsOf(command: Command, workerArgs: readonly string[]): LaunchOptions | null {
  if (![...LAUNCHER_KEYS].some((key) => command.getOptionValueSource(key) === 'cli')) return null;
  const opts = command.opts();
  const value = (name: FlagName) => opts[camel(name)] ?? opts[name];
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  return {
    nprocPerNode: value('nproc_per_node') ?? 1,
    nnodes: value('nnodes'),
    nodeRank: value('node_rank'),
    masterAddr: value('master_addr'),
    masterPort: value('master_port'),
    command: [process.execPath, main, ...workerArgs, ...forwardedFlags(command)],
  };
}

/**
 * Runs this node of the job: checks the options and the config (`loadJobConfig`) once (rather than as N failing
 * workers), launches, prints a summary line and sets the exit code (130 after Ctrl-C: the workers saved a
 * checkpoint; 143 after SIGTERM, which stops the workers as Ctrl-C does).
 */
export async function runLauncher(options: LaunchOptions, loadJobConfig: () => Promise<TrainConfig>): Promise<void> {
  validateLaunchOptions(options);
  await loadJobConfig();
  const first = options.nodeRank * options.nprocPerNode;
  console.log(
    `launching ${options.nprocPerNode} worker(s): ranks ${first}..${first + options.nprocPerNode - 1} of ` +
      `${options.nnodes * options.nprocPerNode}, rendezvous at ${options.masterAddr}:${options.masterPort}`,
  );
  const controller = new AbortController();
  const stopListening = onCtrlC(
    () => {
      console.error(
        'alignkit: stopping the workers after this optimizer step, each saving a checkpoint (Ctrl-C again to kill them)',
      );
      controller.abort();
    },
    () => {
      console.error('alignkit: interrupted; workers killed');
      process.exit(130); // launch's exit hook kills the workers
    },
  );
  // Terminated (a scheduler's stop, a preemption notice): the workers checkpoint as after Ctrl-C, and the launcher
  // exits with 143; a second SIGTERM ends it, and the workers with it. Hung up: go, and take the workers along
  // (they run in their own process groups).
  let terminated = false;
  const onTerm = () => {
    console.error('alignkit: SIGTERM: stopping the workers after this optimizer step, each saving a checkpoint');
    terminated = true;
    controller.abort();
  };
  const onHup = () => process.exit(129);
  process.once('SIGTERM', onTerm);
  process.once('SIGHUP', onHup);
  try {
    const code = await launch({ ...options, signal: controller.signal });
    console.log(
      code === 0
        ? `done: all ${options.nprocPerNode} worker(s) exited 0`
        : `stopped: the workers saved a checkpoint and exited ${code}; resume with the same command and --resume`,
    );
    process.exitCode = terminated && code === 130 ? 143 : code;
  } finally {
    stopListening();
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
  }
}

/** The command's other flags the user gave, as argv for the workers (launcher flags left out). */
function forwardedFlags(command: Command): string[] {
  return command.options.flatMap((option) => {
    const key = option.attributeName();
    if (LAUNCHER_KEYS.has(key) || command.getOptionValueSource(key) !== 'cli') return [];
    const value: unknown = command.getOptionValue(key);
    return typeof value === 'boolean' ? [option.long!] : [value].flat().flatMap((v) => [option.long!, String(v)]);
  });
}

function wholeNumber(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError('expected a whole number');
  return Number(text);
}
