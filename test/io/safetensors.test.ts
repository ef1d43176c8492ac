// The validating safetensors reader on the committed corpus (scripts/fixtures/make_corrupt_safetensors.py):
// the control loads with its values, every corrupt file is an error naming the file and what is wrong.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, readSafetensors } from '../../src/index.js';
import { corruptFile, modelDir, tempDir } from '../helpers/fixtures.js';

describe('readSafetensors', () => {
  it('reads the control file, widening BF16 to float32', async () => {
    const { tensors, metadata } = await readSafetensors(corruptFile('valid'));
    expect(tensors.get('a')).toEqual({ dtype: 'F32', shape: [2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) });
    expect(tensors.get('b')).toEqual({ dtype: 'BF16', shape: [4], data: Float32Array.from([1, -2, 0.5, 3]) });
    expect(metadata).toEqual({ format: 'pt' });
  });

  const corpus = [
    ['truncated', /tensor 'a': data_offsets \[0, 24\] run past the end of the 10-byte data buffer/],
    ['offset-past-end', /tensor 'b': data_offsets \[24, 40\] run past the end of the 32-byte data buffer/],
    ['overlapping', /tensors 'a' \[0, 24\] and 'b' \[16, 24\] overlap/],
    ['header-too-long', /header length 284 is larger than the file \(184 bytes\)/],
    ['bad-json', /header is not valid JSON/],
    ['unknown-dtype', /tensor 'a': unknown dtype 'F42'/],
    ['shape-mismatch', /tensor 'a': shape \[2, 2\] of dtype F32 needs 16 bytes but data_offsets \[0, 24\] span 24/],
    ['tiny', /file is 5 bytes; a safetensors file starts with an 8-byte header length/],
    ['negative-offsets', /tensor 'b': data_offsets \[24, 16\] end before they begin/],
  ] as const;

  it.each(corpus)('%s.safetensors is an ERR_INVALID_FILE naming the file', async (name, message) => {
    const path = corruptFile(name);
    const error = await readSafetensors(path).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'AlignkitError', code: 'ERR_INVALID_FILE' });
    expect((error as Error).message.startsWith(`${path}: `)).toBe(true);
    expect((error as Error).message).toMatch(message);
  });

  it('a corrupt weight file inside a model folder fails the load with the same error', async () => {
    const dir = tempDir('corrupt-model');
    copyFileSync(join(modelDir('llama'), 'config.json'), join(dir, 'config.json'));
    copyFileSync(corruptFile('overlapping'), join(dir, 'model.safetensors'));
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: 'ERR_INVALID_FILE',
      message: expect.stringContaining(`${join(dir, 'model.safetensors')}: tensors 'a'`),
    });
  });

  it('a missing file is ERR_NOT_FOUND', async () => {
    await expect(readSafetensors('/nonexistent/model.safetensors')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });
});
