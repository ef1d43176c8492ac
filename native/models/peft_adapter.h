// PEFT adapter folders: adapter_config.json + adapter_model.safetensors, the layout PeftModel.save_pretrained
// writes and PeftModel.from_pretrained reads (tensor names base_model.model.<module>.lora_A.weight).
#pragma once

#include <string>

#include "models/causal_lm.h"

namespace alignkit::models {

// Reads a LoRA adapter folder and attaches it to `model`; throws naming the file and field for what alignkit
// does not apply (another peft_type, DoRA, bias, modules_to_save, rank or alpha patterns) or weights that do not
// fit the model.
void loadPeftAdapter(CausalLM& model, const std::string& dir);

// Writes `model`'s adapters as PEFT 0.21 does; `baseModel` goes to base_model_name_or_path, and its tokenizer and
// generation files are copied beside them, as a trainer's save_model writes its processing class there.
void savePeftAdapter(const CausalLM& model, const std::string& dir, const std::string& baseModel);

}  // namespace alignkit::models
