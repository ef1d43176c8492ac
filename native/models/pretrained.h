// Loading and saving Hugging Face model folders: config.json + safetensors weights + tokenizer files.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "models/causal_lm.h"

namespace alignkit::models {

struct LoadOptions {
  std::string dtype =
      "";  // float32 | bfloat16 | float16 | auto (config's dtype); empty: float32 on CPU, auto elsewhere
  std::string device = "cpu";  // cpu | cuda | cuda:N
};

struct PretrainedModel {
  std::unique_ptr<CausalLM> model;
  std::string sourceDir;  // where tokenizer and generation files are copied from on save
};

// Reads config.json and the weights, checking that every parameter the config implies is present with its
// shape and that the checkpoint holds nothing the architecture would silently ignore.
PretrainedModel loadPretrained(const std::string& dir, const LoadOptions& options);

// Writes `dir` so that transformers' from_pretrained loads it: config.json (dtype updated), the weights as
// safetensors (sharded above maxShardBytes), and the tokenizer/generation files of the source folder.
void savePretrained(const PretrainedModel& model, const std::string& dir, uint64_t maxShardBytes);

// Copies the tokenizer and generation files of `sourceDir` into `dir` (unless they are the same folder).
void copyCompanionFiles(const std::string& sourceDir, const std::string& dir);

// "float32" -> kFloat etc.; throws naming `field` for names alignkit does not train in.
at::ScalarType parseDtype(const std::string& name, const std::string& field);
std::string dtypeName(at::ScalarType type);

}  // namespace alignkit::models
