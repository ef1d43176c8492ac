export { type ChatTemplateOptions, type Message } from './chat-template.js';
export { isTemplateName, type TemplateName } from './named-templates.js';
export { Tokenizer, type DecodeOptions, type EncodeOptions, type TokenizerLoadOptions } from './tokenizer.js';
