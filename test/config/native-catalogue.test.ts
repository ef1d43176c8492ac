// The config schema against the native loss catalogues (native/train/{dpo_loss,kto_loss,sft_loss}.cpp): every loss
// option the native side registers is a config key with the same TRL name and default, the schema lists no loss
// type (the native registry is the one list), docs/training.md has a line per native loss type, and config load
// runs the native rules between the loss keys as ERR_INVALID_CONFIG naming the file and the keys.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load-config.js';
import type { Field, Schema } from '../../src/config/schema.js';
import { cpoSchema, orpoSchema } from '../../src/config/orpo-fields.js';
import { dpoSchema, ktoSchema, onlineDpoSchema, sftSchema } from '../../src/config/trainer-fields.js';
import { AlignkitError } from '../../src/errors.js';
import { native, type LossCatalogue, type LossOptionSpec } from '../../src/native.js';

const families = [
  {
    name: 'DPO',
    heading: '## DPO',
    schemas: [dpoSchema, onlineDpoSchema] as Schema[],
    catalogue: () => native().dpoLossCatalogue(),
  },
  { name: 'KTO', heading: '## KTO', schemas: [ktoSchema] as Schema[], catalogue: () => native().ktoLossCatalogue() },
  { name: 'SFT', heading: '## SFT', schemas: [sftSchema] as Schema[], catalogue: () => native().sftLossCatalogue() },
  {
    name: 'CPO',
    heading: '## ORPO and CPO',
    schemas: [cpoSchema] as Schema[],
    catalogue: () => native().cpoLossCatalogue(),
  },
];

/** The schema field kinds (and nullability) a native option kind corresponds to. */
function fitsKind(field: Field, spec: LossOptionSpec): boolean {
  switch (spec.type) {
    case 'number':
      return (field.kind === 'number' || field.kind === 'int') && !field.nullable;
    case 'optional_number':
      return (field.kind === 'number' || field.kind === 'int') && field.nullable;
    case 'bool':
      return field.kind === 'boolean' && !field.nullable;
    case 'string':
      return field.kind === 'string' && !field.nullable;
    case 'optional_string':
      return field.kind === 'string' && field.nullable;
    case 'string_list':
      return field.kind === 'stringList';
    case 'optional_number_list':
      return field.kind === 'numberList' && field.nullable;
  }
}

/** The loss types docs/training.md lists (`- loss_type \`name\``) in the section under `heading`. */
function documentedLossTypes(heading: string): string[] {
  const doc = readFileSync(new URL('../../docs/training.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf(heading)).split(/\n## /)[0]!;
  return [...section.matchAll(/^- loss_type `([^`]+)`/gm)].map((m) => m[1]!);
}

describe.each(families)('$name loss options', ({ heading, schemas, catalogue }) => {
  const cat: LossCatalogue = catalogue();

  it('every native option is a config key with its TRL name, kind and default; no loss type is listed in TS', () => {
    expect(cat.options.length).toBeGreaterThan(0);
    for (const schema of schemas) {
      for (const spec of cat.options) {
        const field = schema[spec.name];
        expect(field, spec.name).toBeDefined();
        expect(field!.default, spec.name).toEqual(spec.default);
        expect(fitsKind(field!, spec), `${spec.name}: schema kind ${field!.kind} for native ${spec.type}`).toBe(true);
        // The allowed values are the native registry's alone (checked at config load).
        expect('values' in field!, `${spec.name} lists its values in TS`).toBe(false);
      }
    }
  });

  it('docs/training.md has one line per native loss type', () => {
    expect(cat.lossTypes.length).toBeGreaterThan(0);
    expect(documentedLossTypes(heading)).toEqual(cat.lossTypes);
  });

  it("loss_type's choices are the registered loss types", () => {
    expect(cat.options.find((o) => o.name === 'loss_type')?.choices).toEqual(cat.lossTypes);
  });
});

// ORPO's one loss option (beta) has no loss types to document.
it('ORPO: every native option is a config key with its TRL name and default', () => {
  const cat = native().orpoLossCatalogue();
  expect(cat.options.map((o) => [o.name, o.default])).toEqual([['beta', 0.1]]);
  for (const spec of cat.options)
    expect(orpoSchema[spec.name as keyof typeof orpoSchema].default).toEqual(spec.default);
});

describe('config load runs the native rules between the loss keys', () => {
  const refusal = (config: Record<string, unknown>) => {
    try {
      resolveConfig(config, 'recipe.yaml');
    } catch (err) {
      expect(err).toBeInstanceOf(AlignkitError);
      expect((err as AlignkitError).code).toBe('ERR_INVALID_CONFIG');
      return (err as AlignkitError).message;
    }
    throw new Error(`accepted ${JSON.stringify(config)}`);
  };

  it.each([
    [
      { trainer: 'dpo', loss_type: ['sigmoid', 'dpo'] },
      /^recipe\.yaml: 'loss_type' must be one or a list of sigmoid, hinge, .*, got 'dpo'$/,
    ],
    [
      { trainer: 'online_dpo', loss_type: 'simpo' },
      /^recipe\.yaml: 'loss_type' must be one or a list of .*got 'simpo'$/,
    ],
    [{ trainer: 'dpo', loss_type: 'exo_pair' }, /^recipe\.yaml: 'loss_type' exo_pair needs 'label_smoothing' > 0/],
    [
      { trainer: 'dpo', loss_type: ['sigmoid', 'sft'], loss_weights: [1] },
      /^recipe\.yaml: 'loss_weights' has 1 values for 2 loss types/,
    ],
    [
      { trainer: 'dpo', loss_type: 'bco_pair', f_divergence_type: 'forward_kl' },
      /^recipe\.yaml: 'f_divergence_type' forward_kl does not apply to 'loss_type' bco_pair \(only sigmoid, hinge/,
    ],
    [
      { trainer: 'dpo', f_divergence_type: 'kl' },
      /^recipe\.yaml: 'f_divergence_type' must be one of reverse_kl, forward_kl, js_divergence, alpha_divergence, got 'kl'$/,
    ],
    [
      { trainer: 'dpo', loss_type: 'aot', use_weighting: true },
      /^recipe\.yaml: 'use_weighting' cannot be combined with 'loss_type' aot/,
    ],
    [
      { trainer: 'dpo', loss_type: ['sigmoid', 'sft'], use_weighting: true },
      /^recipe\.yaml: 'use_weighting' cannot be combined with 'loss_type' sft/,
    ],
    [
      { trainer: 'kto', loss_type: 'sigmoid' },
      /^recipe\.yaml: 'loss_type' must be one of kto, apo_zero_unpaired, got 'sigmoid'$/,
    ],
    [{ trainer: 'sft', loss_type: 'ce' }, /^recipe\.yaml: 'loss_type' must be one of nll, dft, chunked_nll, got 'ce'$/],
    [
      { trainer: 'cpo', loss_type: 'kto_pair' },
      /^recipe\.yaml: 'loss_type' must be one of sigmoid, hinge, ipo, simpo, got 'kto_pair'$/,
    ],
    [{ trainer: 'cpo', loss_type: 'simpo', beta: 0 }, /^recipe\.yaml: 'beta' must not be 0 for CPO's loss_type simpo/],
  ])('refuses %j', (config, message) => {
    expect(refusal(config)).toMatch(message);
  });

  it('accepts what trains', () => {
    expect(
      resolveConfig({
        trainer: 'dpo',
        loss_type: 'exo_pair',
        label_smoothing: 1e-3,
        f_divergence_type: 'js_divergence',
      }),
    ).toMatchObject({ loss_type: ['exo_pair'] });
    expect(
      resolveConfig({ trainer: 'dpo', loss_type: ['sigmoid', 'sft'], loss_weights: [1, 0.3], use_weighting: false }),
    ).toMatchObject({ loss_weights: [1, 0.3] });
    expect(resolveConfig({ trainer: 'kto', loss_type: 'apo_zero_unpaired' })).toMatchObject({
      loss_type: 'apo_zero_unpaired',
    });
    expect(resolveConfig({ trainer: 'sft', loss_type: 'dft' })).toMatchObject({ loss_type: 'dft' });
    expect(resolveConfig({ trainer: 'sft' })).toMatchObject({ loss_type: null });
  });
});
