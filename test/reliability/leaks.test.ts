// Nothing leaked: a model folder's file that is a link to a file outside it (tokenizer.model -> /etc/shadow) is never
// copied into a saved model, and no error prints the bytes of a file that is not what it claims (a "header length"
// that is text, a JSON syntax error quoting the first characters).
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, readSafetensors, Tokenizer, train } from '../../src/index.js';
import { readGenerationDefaults } from '../../src/generate/generation-config.js';
import { tempDir } from '../helpers/fixtures.js';
import { copyModel, dpoConfig, expectOneLineError, runCli } from './cli-run.js';

// Stands in for /etc/passwd and /etc/shadow: what must never reach an output folder or an error message.
const SECRET = 'root:x:0:0:SECRET-7f3a:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n';

function secretFile(dir: string): string {
  const path = join(dir, 'passwd-like');
  writeFileSync(path, SECRET);
  return path;
}

/** No file under `dir` holds the secret's text. */
function expectNoSecretIn(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    if (lstatSync(path).isFile()) expect(readFileSync(path, 'utf8'), path).not.toContain('SECRET-7f3a');
  }
}

function expectNoSecretInMessage(message: string): void {
  expect(message).not.toContain('root');
  expect(message).not.toContain('SECRET');
  // The first 8 bytes read as a little-endian u64, which a "header length" message would print.
  expect(message).not.toContain(Buffer.from(SECRET).readBigUInt64LE(0).toString());
}

const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: Error) => e,
  );

describe('companion files that link outside the model folder', () => {
  const dir = tempDir('leak-links');
  const secret = secretFile(dir);
  const model = copyModel(join(dir, 'model'));
  symlinkSync(secret, join(model, 'tokenizer.model'));
  symlinkSync(secret, join(model, 'merges.txt'));

  it('a training run is refused before any work, naming the link', async () => {
    const out = join(dir, 'out-api');
    const error = await errorOf(
      train(
        {
          trainer: 'dpo',
          model_name_or_path: model,
          train_dataset: join(dir, 'none.jsonl'),
          output_dir: out,
          use_cpu: true,
        },
        { log: () => {} },
      ),
    );
    expect(error).toMatchObject({ code: 'ERR_INVALID_MODEL' });
    expect(error.message).toMatch(
      /model\/(merges\.txt|tokenizer\.model) \(in model_name_or_path\) is a link to a file outside the model folder/,
    );
    expectNoSecretInMessage(error.message);
    expectNoSecretIn(out);
  });

  it('the CLI says it in one line and writes nothing with the secret', () => {
    const out = join(dir, 'out-cli');
    const result = runCli(['train', dpoConfig(dir, { model_name_or_path: model, output_dir: out })]);
    expectOneLineError(result, 'ERR_INVALID_MODEL', 'is a link to a file outside the model folder');
    expectNoSecretIn(out);
  });

  it('Model.save refuses to copy it (the native copy follows links only within the folder)', async () => {
    const m = await loadModel(model);
    const out = join(dir, 'out-save');
    const error = await errorOf(m.save(out));
    await m.dispose();
    expect(error).toMatchObject({
      code: 'ERR_INVALID_MODEL',
      message: expect.stringMatching(/(merges\.txt|tokenizer\.model): is a link to a file outside the model folder/),
    });
    expectNoSecretIn(out);
  });

  it('a link to a file inside the folder is copied as a regular file', async () => {
    const inner = copyModel(join(dir, 'inner'));
    mkdirSync(join(inner, 'files'));
    renameSync(join(inner, 'tokenizer_config.json'), join(inner, 'files', 'tokenizer_config.json'));
    symlinkSync(join(inner, 'files', 'tokenizer_config.json'), join(inner, 'tokenizer_config.json'));
    const m = await loadModel(inner);
    const out = join(dir, 'out-inner');
    await m.save(out);
    await m.dispose();
    expect(lstatSync(join(out, 'tokenizer_config.json')).isFile()).toBe(true);
    expect(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')).toBe(
      readFileSync(join(inner, 'files', 'tokenizer_config.json'), 'utf8'),
    );
  });
});

describe('errors about a file that is not what it claims never quote it', () => {
  const dir = tempDir('leak-messages');
  const secret = secretFile(dir);
  const linkedAs = (file: string) => {
    const model = copyModel(join(dir, file.replace(/\W/g, '-')));
    rmSync(join(model, file));
    symlinkSync(secret, join(model, file));
    return model;
  };

  it('tokenizer.json: not valid JSON, without its text', async () => {
    const model = linkedAs('tokenizer.json');
    const error = await errorOf(Tokenizer.load(model));
    expect(error).toMatchObject({ code: 'ERR_INVALID_MODEL' });
    expect(error.message).toMatch(/tokenizer\.json: not valid JSON/);
    expectNoSecretInMessage(error.message);
  });

  it('generation_config.json', async () => {
    const error = await errorOf(readGenerationDefaults(linkedAs('generation_config.json')));
    expect(error.message).toMatch(/generation_config\.json: not valid JSON/);
    expectNoSecretInMessage(error.message);
  });

  it('config.json (parsed natively)', async () => {
    const error = await errorOf(loadModel(linkedAs('config.json')));
    expect(error).toMatchObject({
      code: 'ERR_INVALID_MODEL',
      message: expect.stringMatching(/config\.json: not valid JSON \(syntax error at byte \d+\)/),
    });
    expectNoSecretInMessage(error.message);
  });

  it('model.safetensors whose "header length" is text', async () => {
    const error = await errorOf(loadModel(linkedAs('model.safetensors')));
    expect(error).toMatchObject({
      code: 'ERR_INVALID_FILE',
      message: expect.stringMatching(
        /model\.safetensors: the first 8 bytes give a header length above the 100 MB limit/,
      ),
    });
    expectNoSecretInMessage(error.message);
    const direct = await errorOf(readSafetensors(secret));
    expectNoSecretInMessage(direct.message);
  });

  it('adapter_config.json of a PEFT folder given to train', async () => {
    const adapter = copyModel(join(dir, 'adapter'), 'llama-lora');
    rmSync(join(adapter, 'adapter_config.json'));
    symlinkSync(secret, join(adapter, 'adapter_config.json'));
    const error = await errorOf(
      train(
        {
          trainer: 'dpo',
          model_name_or_path: adapter,
          train_dataset: secret,
          output_dir: join(dir, 'o'),
          use_cpu: true,
        },
        { log: () => {} },
      ),
    );
    expect(error.message).toMatch(/adapter_config\.json/);
    expectNoSecretInMessage(error.message);
  });
});
