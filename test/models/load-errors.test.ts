// A folder alignkit cannot turn into the model it claims to be is an error that says what is wrong and
// what would be accepted — never a model that silently computes something else.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { modelDir, tempDir } from '../helpers/fixtures.js';

/** A copy of fixture `name` with its config.json edited by `edit`. */
function editedCopy(name: string, edit: (config: Record<string, unknown>) => void): string {
  const dir = join(tempDir('load-errors'), name);
  cpSync(modelDir(name), dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  edit(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

async function loadError(dir: string, options = {}) {
  return loadModel(dir, options).then(
    () => null,
    (e: unknown) => e as Error & { code: string },
  );
}

describe('loadModel errors', () => {
  it('unsupported model_type lists the supported ones', async () => {
    const err = await loadError(editedCopy('llama', (c) => (c.model_type = 'gpt2')));
    expect(err?.code).toBe('ERR_INVALID_MODEL');
    expect(err?.message).toMatch(
      /config\.json: unsupported model_type 'gpt2' \(supported: llama, mistral, qwen2, qwen3, granite, olmo2, smollm3, gemma2, gemma3_text, phi3, mixtral, qwen3_moe, olmoe\)/,
    );
  });

  it('a config implying weights the checkpoint lacks lists the missing ones', async () => {
    // (A config with more layers than the weights is refused earlier, naming num_hidden_layers: test/reliability/resource-limits.test.ts.)
    const err = await loadError(editedCopy('llama', (c) => (c.attention_bias = true)));
    expect(err?.code).toBe('ERR_INVALID_MODEL');
    expect(err?.message).toMatch(/checkpoint lacks 8 weight\(s\) .*model\.layers\.0\.self_attn\.q_proj\.bias/);
  });

  it('weights the architecture would ignore are an error, not silently dropped', async () => {
    // Qwen2 weights carry q/k/v biases; read as Llama without attention_bias they would be ignored.
    const err = await loadError(editedCopy('qwen2', (c) => (c.model_type = 'llama')));
    expect(err?.message).toMatch(/does not use .*model\.layers\.0\.self_attn\.q_proj\.bias/);
  });

  it('weights of the wrong shape name both shapes', async () => {
    const err = await loadError(editedCopy('llama', (c) => (c.intermediate_size = 96)));
    expect(err?.message).toMatch(/model\.layers\.0\.mlp\.gate_proj\.weight is \[128, 64\], config implies \[96, 64\]/);
  });

  it('an unsupported RoPE type lists the supported ones', async () => {
    const err = await loadError(
      editedCopy('llama', (c) => (c.rope_parameters = { rope_type: 'yarn', rope_theta: 1e4, factor: 4 })),
    );
    expect(err?.message).toMatch(/unsupported RoPE type 'yarn' \(supported: default, linear, llama3, longrope\)/);
  });

  it('a shard lacking a tensor its index places there names both files', async () => {
    const dir = join(tempDir('load-errors'), 'sharded');
    cpSync(modelDir('llama-sharded'), dir, { recursive: true });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    const [first, second] = [...new Set(Object.values(index.weight_map) as string[])];
    const moved = Object.keys(index.weight_map).find((k) => index.weight_map[k] === first)!;
    index.weight_map[moved] = second;
    writeFileSync(indexPath, JSON.stringify(index));
    const err = await loadError(dir);
    expect(err?.message).toBe(
      `${join(dir, second!)}: lacks tensor '${moved}' that model.safetensors.index.json places in it`,
    );
  });

  it('a folder without config.json or weights says what is missing', async () => {
    expect((await loadError(tempDir('empty')))?.message).toMatch(/config\.json: cannot be read/);
    expect((await loadError('/nonexistent/model'))?.code).toBe('ERR_NOT_FOUND');
  });

  it('bad options are ERR_INVALID_ARG', async () => {
    expect((await loadError(modelDir('llama'), { dtype: 'int8' }))?.message).toMatch(/unsupported dtype 'int8'/);
    expect((await loadError(modelDir('llama'), { device: 'tpu' }))?.code).toBe('ERR_INVALID_ARG');
  });
});
