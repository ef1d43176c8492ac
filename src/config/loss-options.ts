// The loss options of a config, as the native side declares them: each trainer's loss family has a catalogue in
// native/ (names, defaults, loss types, allowed values) and a synchronous validate holding every rule between the
// loss keys. At config load the config's values of the catalogue's keys go through that validate, so a refusal
// names the config file before any work; the trainers pass the same keys to the native step by their TRL names.
import { AlignkitError } from '../errors.js';
import { native, type LossCatalogue } from '../native.js';

type LossFamily = 'dpo' | 'kto' | 'sft' | 'orpo' | 'cpo' | 'bco';

const FAMILY: Record<string, LossFamily> = {
  dpo: 'dpo',
  online_dpo: 'dpo',
  kto: 'kto',
  sft: 'sft',
  orpo: 'orpo',
  cpo: 'cpo',
  bco: 'bco',
};

/** Each loss family's native catalogue and validate, by their addon names (online DPO trains with DPO's loss). */
const NATIVE = {
  dpo: ['dpoLossCatalogue', 'validateDpoLossOptions'],
  kto: ['ktoLossCatalogue', 'validateKtoLossOptions'],
  sft: ['sftLossCatalogue', 'validateSftLossOptions'],
  orpo: ['orpoLossCatalogue', 'validateOrpoLossOptions'],
  cpo: ['cpoLossCatalogue', 'validateCpoLossOptions'],
  bco: ['bcoLossCatalogue', 'validateBcoLossOptions'],
} as const;

/** The native catalogue of a loss family. */
export function lossCatalogue(family: LossFamily): LossCatalogue {
  return native()[NATIVE[family][0]]();
}

/**
 * The values of the catalogue's options in `config`, by their TRL names: what a native step takes. `O` is the step's
 * loss options type (e.g. DpoLossOptions), whose keys the config must hold.
 */
export function lossOptions<O extends object>(config: { [K in keyof O]-?: O[K] }, catalogue: LossCatalogue): O {
  const values = config as Record<string, unknown>;
  return Object.fromEntries(
    catalogue.options.filter((o) => o.name in values).map((o) => [o.name, values[o.name]]),
  ) as O;
}

/**
 * Runs the native validate of the config's loss family on its loss keys: an unknown loss_type or a combination the
 * loss cannot train (exo_pair without label_smoothing, loss_weights of another length, an f-divergence the loss
 * type does not take...) is an ERR_INVALID_CONFIG naming `where` and the keys.
 */
export function checkLossOptions(config: { trainer: string }, where: string): void {
  const family = FAMILY[config.trainer];
  if (!family) return;
  const validate = native()[NATIVE[family][1]];
  try {
    validate(lossOptions<Record<string, unknown>>(config as Record<string, unknown>, lossCatalogue(family)));
  } catch (err) {
    throw new AlignkitError('ERR_INVALID_CONFIG', `${where}: ${(err as Error).message}`, { cause: err });
  }
}
