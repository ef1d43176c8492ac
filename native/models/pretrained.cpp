#include "models/pretrained.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/error.h"
#include "io/checkpoint.h"

namespace alignkit::models {
namespace fs = std::filesystem;
namespace {

// Files beside the weights that a fine-tuned folder must carry along for transformers to use it unchanged.
const char* const kCompanionFiles[] = {
    "tokenizer.json",      "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
    "vocab.json",          "merges.txt",            "added_tokens.json",       "chat_template.jinja",
    "chat_template.json",  "generation_config.json"};

// Checkpoint keys that carry no parameter: rotary caches some older exports include.
bool isNonParameterKey(const std::string& name) { return name.find("rotary_emb.inv_freq") != std::string::npos; }

std::string readText(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("ERR_NOT_FOUND", path.string() + ": cannot be read (is this a Hugging Face model folder?)");
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string shapeString(at::IntArrayRef shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string listSome(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 8; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 8) out += ", … (" + std::to_string(names.size()) + " in all)";
  return out;
}

}  // namespace

at::ScalarType parseDtype(const std::string& name, const std::string& field) {
  if (name == "float32" || name == "float") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float16" || name == "half") return at::kHalf;
  throw invalidArgument(field + ": unsupported dtype '" + name + "' (expected float32, bfloat16 or float16)");
}

std::string dtypeName(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: throw invalidArgument(std::string("no Hugging Face dtype name for ") + c10::toString(type));
  }
}

PretrainedModel loadPretrained(const std::string& dir, const LoadOptions& options) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw Error("ERR_NOT_FOUND", dir + ": not a directory");
  const fs::path configPath = root / "config.json";
  ModelConfig config = ModelConfig::parse(readText(configPath), configPath.string());

  at::Device device(at::kCPU);
  try {
    device = at::Device(options.device);
  } catch (const c10::Error&) {
    throw invalidArgument("device: '" + options.device + "' is not a device (expected cpu, cuda or cuda:N)");
  }
  if (device.is_cuda() && !at::hasCUDA())
    throw invalidArgument("device: '" + options.device + "' requested but this libtorch has no usable CUDA device");
  const std::string dtypeChoice = options.dtype.empty() ? (device.is_cpu() ? "float32" : "auto") : options.dtype;
  const at::ScalarType dtype =
      parseDtype(dtypeChoice == "auto" ? config.dtype : dtypeChoice, dtypeChoice == "auto" ? "config.json dtype" : "dtype");

  std::map<std::string, at::Tensor> stored = io::readCheckpointTensors(dir);
  NamedTensors parameters;
  std::vector<std::string> missing, wrongShape;
  for (const auto& [name, shape] : expectedParameters(config)) {
    auto it = stored.find(name);
    if (it == stored.end()) {
      missing.push_back(name);
      continue;
    }
    if (it->second.sizes() != at::IntArrayRef(shape)) {
      wrongShape.push_back(name + " is " + shapeString(it->second.sizes()) + ", config implies " + shapeString(shape));
      continue;
    }
    // An owned, trainable copy: the stored tensor only views the mapped file.
    at::Tensor p = it->second.to(device, dtype, /*non_blocking=*/false, /*copy=*/true);
    p.set_requires_grad(true);
    parameters.emplace_back(name, std::move(p));
    stored.erase(it);
  }
  if (!missing.empty())
    throw invalidModel(dir, "checkpoint lacks " + std::to_string(missing.size()) + " weight(s) that config.json (" +
                                config.modelType + ") needs: " + listSome(missing));
  if (!wrongShape.empty()) throw invalidModel(dir, "weights with the wrong shape: " + listSome(wrongShape));

  std::vector<std::string> unexpected;
  for (const auto& [name, tensor] : stored)
    if (!isNonParameterKey(name) && !(config.tieWordEmbeddings && name == "lm_head.weight")) unexpected.push_back(name);
  if (!unexpected.empty())
    throw invalidModel(dir, "checkpoint holds weight(s) that a " + config.modelType +
                                " model with this config.json does not use (wrong model_type or flags?): " +
                                listSome(unexpected));

  return {std::make_unique<CausalLM>(std::move(config), std::move(parameters)), fs::absolute(root).string()};
}

void savePretrained(const PretrainedModel& model, const std::string& dir, uint64_t maxShardBytes) {
  const fs::path root(dir);
  fs::create_directories(root);
  io::writeCheckpointTensors(dir, model.model->parameters(), maxShardBytes);

  nlohmann::ordered_json config = nlohmann::ordered_json::parse(model.model->config().sourceJson);
  const std::string dtype = dtypeName(model.model->dtype());
  if (config.contains("torch_dtype")) config["torch_dtype"] = dtype;
  if (config.contains("dtype") || !config.contains("torch_dtype")) config["dtype"] = dtype;
  const fs::path tmp = root / "config.json.tmp";
  std::ofstream(tmp) << config.dump(2) << "\n";
  fs::rename(tmp, root / "config.json");

  copyCompanionFiles(model.sourceDir, dir);
}

void copyCompanionFiles(const std::string& sourceDir, const std::string& dir) {
  const fs::path source(sourceDir), root(dir);
  if (fs::exists(root) && fs::equivalent(source, root)) return;
  for (const char* name : kCompanionFiles)
    if (fs::exists(source / name)) fs::copy_file(source / name, root / name, fs::copy_options::overwrite_existing);
}

}  // namespace alignkit::models
