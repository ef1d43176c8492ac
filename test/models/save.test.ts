// save() writes a Hugging Face folder: reloading it gives identical logits, the files are laid out as
// save_pretrained lays them out, and the tokenizer files travel along.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, readSafetensors } from '../../src/index.js';
import { maxAbsDiff, modelDir, reference, tempDir } from '../helpers/fixtures.js';

async function logitsOf(dir: string, ids: Int32Array, options: Parameters<typeof loadModel>[1] = {}) {
  return (await (await loadModel(dir, options)).logits(ids, undefined, { seqLen: 12 })).data;
}

describe('save → load round trip', () => {
  it('writes config, one safetensors file and the source folder’s tokenizer files', async () => {
    const ref = await reference('llama');
    const ids = ref('input_ids_full').data as Int32Array;
    const out = tempDir('save');
    await (await loadModel(modelDir('llama'))).save(out);

    expect(readdirSync(out).sort()).toEqual(
      ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].sort(),
    );
    expect(readFileSync(join(out, 'tokenizer.json'))).toEqual(readFileSync(join(modelDir('llama'), 'tokenizer.json')));
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    const original = JSON.parse(readFileSync(join(modelDir('llama'), 'config.json'), 'utf8'));
    expect(config).toEqual(original);

    const saved = await readSafetensors(join(out, 'model.safetensors'));
    expect(saved.metadata).toEqual({ format: 'pt' }); // transformers refuses files without it
    const source = await readSafetensors(join(modelDir('llama'), 'model.safetensors'));
    expect([...saved.tensors.keys()].sort()).toEqual([...source.tensors.keys()].sort());
    for (const [name, t] of source.tensors) expect(saved.tensors.get(name)!.data, name).toEqual(t.data);

    expect(maxAbsDiff(await logitsOf(out, ids), await logitsOf(modelDir('llama'), ids), 256)).toBe(0);
  });

  it('keeps the data buffer 8-byte aligned, as Python safetensors writes it', async () => {
    const out = tempDir('align');
    await (await loadModel(modelDir('qwen3'))).save(out);
    const bytes = readFileSync(join(out, 'model.safetensors'));
    expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);
  });

  it('shards above maxShardSize with an index, and loads back the same', async () => {
    const ref = await reference('llama');
    const ids = ref('input_ids_full').data as Int32Array;
    const out = tempDir('shard');
    await (await loadModel(modelDir('llama'))).save(out, { maxShardSize: '150KB' });

    const shards = readdirSync(out).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThanOrEqual(3);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(false);
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shards));
    expect(maxAbsDiff(await logitsOf(out, ids), await logitsOf(modelDir('llama'), ids), 256)).toBe(0);

    // Saving again unsharded into the same folder leaves one layout, not two.
    await (await loadModel(out)).save(out);
    expect(readdirSync(out).filter((f) => f.startsWith('model'))).toEqual(['model.safetensors']);
  });

  it('records the saved dtype in config.json and omits lm_head for tied models', async () => {
    const out = tempDir('dtype');
    await (await loadModel(modelDir('qwen2-f16'), { dtype: 'auto' })).save(out);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.dtype).toBe('float16');
    const saved = await readSafetensors(join(out, 'model.safetensors'));
    expect(saved.tensors.get('model.embed_tokens.weight')!.dtype).toBe('F16');
    expect(saved.tensors.has('lm_head.weight')).toBe(false);

    const asBf16 = tempDir('bf16');
    await (await loadModel(modelDir('llama'), { dtype: 'bfloat16' })).save(asBf16);
    expect(JSON.parse(readFileSync(join(asBf16, 'config.json'), 'utf8')).dtype).toBe('bfloat16');
  });
});
