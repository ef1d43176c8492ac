// A chat template is code from the model folder, run once per row: one that builds a huge range or loops for ever
// is an error naming the row ("row N: chat template exceeded ..."), within seconds, never a V8 abort or a hang that
// ignores Ctrl-C. Real templates are untouched by the bounds.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer, train } from '../../src/index.js';
import { fixturesDir, tempDir } from '../helpers/fixtures.js';
import { dpoConfig, expectOneLineError, runCli } from './cli-run.js';

const chatml = join(fixturesDir, 'tokenizers', 'chatml-bytelevel');
const conversation = [
  { role: 'user', content: 'hi' },
  { role: 'assistant', content: 'hello' },
];

describe('bounded chat templates', () => {
  const dir = tempDir('templates');
  const rows = join(dir, 'conv.jsonl');
  writeFileSync(
    rows,
    JSON.stringify({
      prompt: [{ role: 'user', content: 'hi' }],
      chosen: [{ role: 'assistant', content: 'yes' }],
      rejected: [{ role: 'assistant', content: 'no' }],
    }) + '\n',
  );
  const template = (name: string, source: string) => {
    const path = join(dir, `${name}.jinja`);
    writeFileSync(path, source);
    return path;
  };

  it.each([
    [
      'a huge range',
      '{% for i in range(1000000000) %}x{% endfor %}',
      'chat template exceeded the 1,000,000 numbers one range() may make (it asked for 1,000,000,000)',
    ],
    [
      'nested loops that would run 10^10 times',
      '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
      'chat template exceeded 1,000,000 evaluation steps in one render',
    ],
  ])('%s: an error naming the row, within seconds', (name, source, message) => {
    const started = Date.now();
    const result = runCli(
      [
        'train',
        dpoConfig(dir, {
          train_dataset: rows,
          chat_template: template(name.replace(/\W/g, '-'), source),
          output_dir: join(dir, 'out'),
        }),
      ],
      { timeout: 60_000 },
    );
    expectOneLineError(result, 'ERR_INVALID_DATA', `${rows}: row 0: ${message}`);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('a template that recurses for ever is an error too', async () => {
    const tokenizer = await Tokenizer.load(chatml, {
      chatTemplate: template('recursion', '{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}'),
    });
    expect(() => tokenizer.applyChatTemplate(conversation)).toThrow(/chat template/);
  });

  it('loops and ranges of ordinary size render as before', async () => {
    const source =
      '{% for i in range(3) %}{{ i }}{% endfor %}|{% for j in range(10, 0, -3) %}{{ j }},{% endfor %}|{% for m in messages %}{{ m.content }}{% endfor %}';
    const tokenizer = await Tokenizer.load(chatml, { chatTemplate: template('ordinary', source) });
    expect(tokenizer.applyChatTemplate(conversation)).toBe('012|10,7,4,1,|hihello');
    // The bound is per render: many renders in a row each get the whole budget.
    for (let i = 0; i < 50; i++) tokenizer.applyChatTemplate(conversation);
  });

  it('train() reports the row as well', async () => {
    await expect(
      train(
        {
          trainer: 'dpo',
          model_name_or_path: join(fixturesDir, 'models', 'llama'),
          train_dataset: rows,
          chat_template: template('api', '{% for i in range(2000000) %}{% endfor %}'),
          output_dir: join(dir, 'api'),
          use_cpu: true,
        },
        { log: () => {} },
      ),
    ).rejects.toThrow(`${rows}: row 0: chat template exceeded the 1,000,000 numbers one range() may make`);
  });
});
