// The tokenized-data cache key (src/data/fingerprint.ts): the data, the tokenizer files and the settings, not the
// model's weights, which shape no token id.
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/data/fingerprint.js';
import { modelDir, tempDir } from '../helpers/fixtures.js';

describe('dataset fingerprint', () => {
  it('changes with the tokenizer files and the settings, not with the weights', async () => {
    const model = join(tempDir('fingerprint'), 'model');
    cpSync(modelDir('llama'), model, { recursive: true });
    const data = join(tempDir('fingerprint-data'), 'rows.jsonl');
    writeFileSync(data, '{"text": "a"}\n');
    const key = await fingerprint([data, model], { max_length: 8 });

    writeFileSync(join(model, 'model.safetensors'), 'other weights');
    expect(await fingerprint([data, model], { max_length: 8 })).toBe(key);

    expect(await fingerprint([data, model], { max_length: 9 })).not.toBe(key);
    writeFileSync(join(model, 'tokenizer_config.json'), '{}');
    expect(await fingerprint([data, model], { max_length: 8 })).not.toBe(key);
  });
});
