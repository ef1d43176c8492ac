// Chat templates chosen by name for a model folder without one (`chat_template: chatml | zephyr | llama2 | llama3`).
// Template strings are the published ones, byte for byte (test/tokenizer checks them against the fixture generator).

export type TemplateName = 'chatml' | 'zephyr' | 'llama2' | 'llama3';

export interface NamedTemplate {
  template: string;
  /** Tokens the template writes literally and that must be single special tokens; added when missing. */
  specialTokens: string[];
  /** Special tokens the template family repoints (transformers' bos_token/eos_token/pad_token). */
  set: Partial<Record<'bos_token' | 'eos_token' | 'pad_token', string>>;
}

export const NAMED_TEMPLATES: Record<TemplateName, NamedTemplate> = {
  // TRL's setup_chat_format (ChatMlSpecialTokens, removed in TRL 1.x): bos <|im_start|>, eos and pad <|im_end|>
  chatml: {
    template:
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}" +
      "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
    specialTokens: ['<|im_start|>', '<|im_end|>'],
    set: { bos_token: '<|im_start|>', eos_token: '<|im_end|>', pad_token: '<|im_end|>' },
  },
  // HuggingFaceH4/zephyr-7b-beta: <|user|> and friends are plain text there, the turn ends with the tokenizer's eos
  zephyr: {
    template:
      "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n" +
      "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n" +
      "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n" +
      "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
    specialTokens: [],
    set: {},
  },
  // meta-llama/Llama-2-7b-chat-hf: [INST] and <<SYS>> are plain text, turns use the tokenizer's bos and eos
  llama2: {
    template:
      "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}" +
      "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}" +
      '{% set system_message = false %}{% endif %}{% for message in loop_messages %}' +
      "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
      "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
      '{% if loop.index0 == 0 and system_message != false %}' +
      "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}" +
      "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}" +
      "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}" +
      "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
    specialTokens: [],
    set: {},
  },
  // Meta-Llama-3-8B-Instruct (TRL's chat_templates/llama3.jinja), with that model's bos and eos
  llama3: {
    template:
      '{% set loop_messages = messages %}{% for message in loop_messages %}' +
      "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + " +
      "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}" +
      "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
    specialTokens: ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
    set: { bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>' },
  },
};

export function isTemplateName(name: string): name is TemplateName {
  return Object.hasOwn(NAMED_TEMPLATES, name);
}
