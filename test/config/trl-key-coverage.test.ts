// Every key a TRL 1.13 user's recipe may hold is implemented, accepted with a note (noEffect) or refused, for each
// trainer: the fields of its DPOConfig / SFTConfig / KTOConfig (all of transformers 5.18's TrainingArguments), and of
// what `trl dpo|sft|kto` parses beside it (ModelConfig, ScriptArguments, DatasetMixtureConfig) plus the
// alignment-handbook's additions; and each key's default is TRL's. Recorded by scripts/fixtures/make_trl_config_fields.py.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Schema } from '../../src/config/schema.js';
import { TRL_CONFIG_CLASS } from '../../src/config/load-recipe.js';
import { trainerSchemas } from '../../src/config/trainer-fields.js';
import { fixturesDir } from '../helpers/fixtures.js';

interface TrlFields {
  trl: string;
  transformers: string;
  classes: Record<string, Record<string, unknown>>;
  handbook: Record<string, Record<string, unknown>>;
}
const trl = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'config-fields.json'), 'utf8')) as TrlFields;

const CONFIG_CLASS = TRL_CONFIG_CLASS;
/** The dataclasses `trl <trainer> --config recipe.yaml` parses beside the trainer's config (trl/scripts/<trainer>.py). */
const SCRIPT_CLASSES = ['ModelConfig', 'ScriptArguments', 'DatasetMixtureConfig'] as const;

/**
 * Defaults alignkit keeps apart from TRL's on purpose, as `Class.key`, with the reason. Any other difference fails.
 */
const INTENTIONAL_DEFAULTS: Record<string, string> = {
  'DPOConfig.precompute_ref_log_probs':
    'null = not written: on when the training set is reused over epochs (auto-precompute.ts)',
  'KTOConfig.precompute_ref_log_probs':
    'null = not written: on when the training set is reused over epochs (auto-precompute.ts)',
};

/** Each key of a recipe for `trainer`: the class that declares it and TRL's default there. */
function trlKeys(trainer: keyof typeof CONFIG_CLASS): { key: string; owner: string; trlDefault: unknown }[] {
  const owners = [CONFIG_CLASS[trainer], ...SCRIPT_CLASSES];
  const keys = new Map<string, { owner: string; trlDefault: unknown }>();
  for (const owner of owners) {
    const fields = { ...trl.classes[owner], ...trl.handbook[owner] };
    for (const [key, trlDefault] of Object.entries(fields)) if (!keys.has(key)) keys.set(key, { owner, trlDefault });
  }
  return [...keys].map(([key, v]) => ({ key, ...v }));
}

const status = (schema: Schema, key: string) =>
  !(key in schema)
    ? 'missing'
    : schema[key]!.refused !== undefined
      ? 'refused'
      : schema[key]!.noEffect !== undefined
        ? 'noted'
        : 'implemented';

describe(`every key of TRL ${trl.trl} (transformers ${trl.transformers}) is implemented, noted or refused`, () => {
  it('was recorded from TRL 1.13 and transformers 5.18', () => {
    expect([trl.trl, trl.transformers]).toEqual(['1.13.0', '5.18.0']);
    // The fixture holds all of TrainingArguments: a sample of keys from its corners.
    expect(Object.keys(trl.classes.DPOConfig!)).toEqual(
      expect.arrayContaining(['deepspeed', 'log_level', 'dataloader_num_workers', 'beta']),
    );
  });

  it.each(Object.keys(CONFIG_CLASS) as (keyof typeof CONFIG_CLASS)[])(
    'trainer %s: no key is missing from the schema',
    (trainer) => {
      const schema: Schema = trainerSchemas[trainer];
      const missing = trlKeys(trainer)
        .filter(({ key }) => status(schema, key) === 'missing')
        .map(({ owner, key }) => `${owner}.${key}`);
      expect(missing).toEqual([]);
    },
  );

  it.each(Object.keys(CONFIG_CLASS) as (keyof typeof CONFIG_CLASS)[])(
    "trainer %s: each key's default is TRL's",
    (trainer) => {
      const schema: Schema = trainerSchemas[trainer];
      const differing = trlKeys(trainer)
        .filter(({ key, owner }) => key in schema && !(`${owner}.${key}` in INTENTIONAL_DEFAULTS))
        .filter(({ key, trlDefault }) => !isDeepStrictEqual(schema[key]!.default, trlDefault))
        .map(
          ({ key, owner, trlDefault }) =>
            `${owner}.${key}: alignkit ${JSON.stringify(schema[key]!.default)}, TRL ${JSON.stringify(trlDefault)}`,
        );
      expect(differing).toEqual([]);
    },
  );

  it('a key without effect or refused says why, and is both only when it refuses some values and notes the rest', () => {
    for (const [trainer, schema] of Object.entries(trainerSchemas) as [string, Schema][]) {
      for (const [key, field] of Object.entries(schema)) {
        const where = `${trainer}.${key}`;
        if (field.noEffect !== undefined) expect(field.noEffect.length, where).toBeGreaterThan(20);
        if (field.refused !== undefined) expect(field.refused.length, where).toBeGreaterThan(20);
        expect(
          field.noEffect !== undefined && field.refused !== undefined && field.refusedValues === undefined,
          where,
        ).toBe(false);
      }
    }
  });

  it('every intentional difference is still a difference', () => {
    for (const name of Object.keys(INTENTIONAL_DEFAULTS)) {
      const [owner, key] = name.split('.') as [string, string];
      const trainers = (Object.keys(CONFIG_CLASS) as (keyof typeof CONFIG_CLASS)[]).filter((t) =>
        trlKeys(t).some((k) => k.key === key && k.owner === owner),
      );
      expect(trainers, name).not.toEqual([]);
      for (const t of trainers)
        expect(
          isDeepStrictEqual(
            trainerSchemas[t][key as keyof (typeof trainerSchemas)[typeof t]]?.default,
            { ...trl.classes[owner], ...trl.handbook[owner] }[key],
          ),
          name,
        ).toBe(false);
    }
  });
});
