// Chat templates that crash or hang a renderer: each must end as an error naming the row.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { config } from '../workspace.mjs';

const conversation = JSON.stringify({
  prompt: [{ role: 'user', content: 'hi' }],
  chosen: [{ role: 'assistant', content: 'yes' }],
  rejected: [{ role: 'assistant', content: 'no' }],
});

function withTemplate(source) {
  return (dir) => {
    writeFileSync(join(dir, 'rows.jsonl'), conversation + '\n');
    writeFileSync(join(dir, 'template.jinja'), source);
    return {
      args: [
        'train',
        config(dir, { train_dataset: join(dir, 'rows.jsonl'), chat_template: join(dir, 'template.jinja') }),
      ],
      outputs: [join(dir, 'out')],
    };
  };
}

export const templateCases = [
  {
    name: 'template range(1e9)',
    expect: 'error',
    timeout: 60,
    setup: withTemplate('{% for i in range(1000000000) %}x{% endfor %}'),
  },
  {
    name: 'template nested range(1e5) loops',
    expect: 'error',
    timeout: 60,
    setup: withTemplate('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}'),
  },
  {
    name: 'template recursive macro',
    expect: 'error',
    timeout: 60,
    setup: withTemplate('{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}'),
  },
  { name: 'template raise_exception', expect: 'error', setup: withTemplate("{{ raise_exception('no system role') }}") },
  { name: 'template syntax error', expect: 'error', setup: withTemplate('{% for m in messages %}') },
  {
    name: 'template that works',
    expect: 'ok',
    setup: withTemplate('{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}'),
  },
];
