// The final model is written as checkpoints are: into a temporary folder, fsync'ed, then renamed into place. A write
// that fails (a full disk, a file-size limit) leaves output_dir's previous model as it was, and the error names the
// file that failed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/index.js';
import { writeModelFolder } from '../../src/io/model-folder-write.js';
import { modelDir, tempDir } from '../helpers/fixtures.js';
import { cli, copyModel, dpoConfig, snapshot } from './cli-run.js';

describe('writeModelFolder', () => {
  it('a failing write leaves the folder as it was and names the file', async () => {
    const dir = copyModel(join(tempDir('final-save-unit'), 'out'));
    const before = snapshot(dir);
    const error = await writeModelFolder(dir, async (temp) => {
      writeFileSync(join(temp, 'config.json'), '{}');
      throw Object.assign(new Error(`ENOSPC: no space left on device, write '${join(temp, 'model.safetensors')}'`), {
        code: 'ENOSPC',
      });
    }).then(
      () => null,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(
      /^saving the model into .*out failed, its previous files are unchanged: ENOSPC: .*model\.safetensors/,
    );
    expect(snapshot(dir)).toEqual(before);
  });

  it('a new layout replaces the weight files of the old one and keeps the other files', async () => {
    const dir = join(tempDir('final-save-layout'), 'out');
    mkdirSync(dir);
    writeFileSync(join(dir, 'model-00001-of-00002.safetensors'), 'old');
    writeFileSync(join(dir, 'model.safetensors.index.json'), '{}');
    writeFileSync(join(dir, 'metrics.jsonl'), '{}\n');
    const model = await loadModel(modelDir('llama'));
    await writeModelFolder(dir, (temp) => model.save(temp));
    await model.dispose();
    expect(readdirSync(dir).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'metrics.jsonl',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
  });

  it('the native writer reports a config.json it cannot write instead of leaving it empty', async () => {
    const dir = join(tempDir('final-save-native'), 'out');
    // The temporary name the writer uses is taken by a folder: opening it for writing fails, as a full disk would.
    mkdirSync(join(dir, `config.json.tmp-${process.pid}`), { recursive: true });
    const model = await loadModel(modelDir('llama'));
    const error = await model.save(dir).then(
      () => null,
      (e: Error & { code: string }) => e,
    );
    await model.dispose();
    expect(error).toMatchObject({
      code: 'ERR_IO',
      message: expect.stringMatching(/out\/config\.json: cannot be created \(Is a directory\)/),
    });
  });
});

describe('a run whose final save fails', () => {
  it("keeps output_dir's previous model byte for byte, and names the file that failed", () => {
    const dir = tempDir('final-save-cli');
    // A model whose tokenizer.json (padded with whitespace, still valid JSON) is larger than its weights: under a
    // file-size limit between the two, the weights and config.json are written and the tokenizer copy fails.
    const model = copyModel(join(dir, 'model'));
    writeFileSync(
      join(model, 'tokenizer.json'),
      readFileSync(join(model, 'tokenizer.json'), 'utf8') + ' '.repeat(600_000),
    );
    const out = copyModel(join(dir, 'out'));
    const before = snapshot(out);
    const config = dpoConfig(dir, { model_name_or_path: model, output_dir: out, learning_rate: 0.01 });
    // A size limit of 500 KiB per file, with SIGXFSZ ignored so that a write past it fails with EFBIG (as ENOSPC would).
    const r = spawnSync(
      'bash',
      ['-c', `trap '' XFSZ; ulimit -f 500; exec "${process.execPath}" "${cli}" train "${config}"`],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(
      /^alignkit: saving the model into .*out failed, its previous files are unchanged: .*tokenizer\.json.*\[ERR_IO\]$/,
    );
    const after = snapshot(out);
    for (const [file, hash] of Object.entries(before)) expect(after[file], file).toBe(hash);
    expect(Object.keys(after).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});
