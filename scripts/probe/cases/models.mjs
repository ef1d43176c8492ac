// Bad model folders: output over the model, links out of the folder, files that are not what they claim, sizes the
// weights do not have. Each case returns the command to run and the folders it may write (`outputs`).
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { config, model, SECRET } from '../workspace.mjs';

/** A copy of the llama fixture whose `file` is a link to a secret outside the folder. */
function linkedOut(dir, file) {
  writeFileSync(join(dir, 'passwd'), SECRET);
  const m = model(dir);
  rmSync(join(m, file), { force: true });
  symlinkSync(join(dir, 'passwd'), join(m, file));
  return m;
}

const train = (dir, fields, outputs = [join(dir, 'out')]) => ({ args: ['train', config(dir, fields)], outputs });

export const modelCases = [
  {
    name: 'output_dir = model_name_or_path',
    expect: 'error',
    setup: (dir) => {
      const m = model(dir);
      return train(dir, { model_name_or_path: m, output_dir: m }, []);
    },
  },
  {
    name: 'output_dir = model dir/./',
    expect: 'error',
    setup: (dir) => {
      const m = model(dir);
      return train(dir, { model_name_or_path: m, output_dir: `${m}/./` }, []);
    },
  },
  {
    name: 'output_dir = symlink to model',
    expect: 'error',
    setup: (dir) => {
      const m = model(dir);
      symlinkSync(m, join(dir, 'link'));
      return train(dir, { model_name_or_path: m, output_dir: join(dir, 'link') }, []);
    },
  },
  {
    name: 'output_dir inside the model',
    expect: 'error',
    setup: (dir) => {
      const m = model(dir);
      return train(dir, { model_name_or_path: m, output_dir: join(m, 'run') }, []);
    },
  },
  {
    name: 'output_dir = base of the adapter trained',
    expect: 'error',
    setup: (dir) => {
      const base = model(dir, 'llama', 'base');
      const adapter = model(dir, 'llama-lora', 'adapter');
      const path = join(adapter, 'adapter_config.json');
      writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), base_model_name_or_path: base }));
      return train(dir, { model_name_or_path: adapter, output_dir: base }, []);
    },
  },
  {
    name: 'merge output = base',
    expect: 'error',
    setup: (dir) => {
      const b = model(dir, 'llama', 'base');
      const a = model(dir, 'llama-lora', 'adapter');
      return { args: ['merge', a, b, '--base', b], outputs: [] };
    },
  },
  {
    name: 'merge output = adapter',
    expect: 'error',
    setup: (dir) => {
      const b = model(dir, 'llama', 'base');
      const a = model(dir, 'llama-lora', 'adapter');
      return { args: ['merge', a, a, '--base', b], outputs: [] };
    },
  },
  {
    name: 'merge into a new folder',
    expect: 'ok',
    setup: (dir) => {
      const b = model(dir, 'llama', 'base');
      const a = model(dir, 'llama-lora', 'adapter');
      return { args: ['merge', a, join(dir, 'merged'), '--base', b], outputs: [join(dir, 'merged')] };
    },
  },
  {
    name: 'tokenizer.model -> secret outside',
    expect: 'error',
    setup: (dir) => train(dir, { model_name_or_path: linkedOut(dir, 'tokenizer.model') }),
  },
  {
    name: 'merges.txt -> secret outside',
    expect: 'error',
    setup: (dir) => train(dir, { model_name_or_path: linkedOut(dir, 'merges.txt') }),
  },
  {
    name: 'tokenizer.json -> secret',
    expect: 'error',
    setup: (dir) => train(dir, { model_name_or_path: linkedOut(dir, 'tokenizer.json') }),
  },
  {
    name: 'config.json -> secret',
    expect: 'error',
    setup: (dir) => ({ args: ['inspect', linkedOut(dir, 'config.json')], outputs: [] }),
  },
  {
    name: 'model.safetensors -> secret (text header)',
    expect: 'error',
    setup: (dir) => ({ args: ['inspect', linkedOut(dir, 'model.safetensors')], outputs: [] }),
  },
  {
    name: 'safetensors with trailing bytes',
    expect: 'error',
    setup: (dir) => {
      const m = model(dir);
      writeFileSync(
        join(m, 'model.safetensors'),
        Buffer.concat([readFileSync(join(m, 'model.safetensors')), Buffer.alloc(16)]),
      );
      return { args: ['inspect', m], outputs: [] };
    },
  },
  ...[1e9, 1e6].map((layers) => ({
    name: `num_hidden_layers ${layers}`,
    expect: 'error',
    timeout: 30,
    setup: (dir) => {
      const m = model(dir);
      const c = JSON.parse(readFileSync(join(m, 'config.json'), 'utf8'));
      writeFileSync(join(m, 'config.json'), JSON.stringify({ ...c, num_hidden_layers: layers }));
      return { args: ['inspect', m], outputs: [] };
    },
  })),
  {
    name: 'model folder missing',
    expect: 'error',
    setup: (dir) => train(dir, { model_name_or_path: join(dir, 'nowhere') }),
  },
  {
    name: 'empty model folder',
    expect: 'error',
    setup: (dir) => {
      mkdirSync(join(dir, 'empty'));
      return train(dir, { model_name_or_path: join(dir, 'empty') });
    },
  },
];
