#include "models/pretrained.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "common/error.h"
#include "io/checkpoint.h"

namespace alignkit::models {
namespace fs = std::filesystem;
namespace {

// Files beside the weights that a fine-tuned folder must carry along for transformers to use it unchanged.
const char* const kCompanionFiles[] = {"tokenizer.json",
                                       "tokenizer_config.json",
                                       "special_tokens_map.json",
                                       "tokenizer.model",
                                       "vocab.json",
                                       "merges.txt",
                                       "added_tokens.json",
                                       "chat_template.jinja",
                                       "chat_template.json",
                                       "generation_config.json"};

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

// Where a companion file may resolve to: the model folder, and for a Hugging Face hub cache snapshot
// (models--org--name/snapshots/<revision>/, whose files link to ../../blobs/) that repository's blobs folder.
std::vector<fs::path> companionRoots(const fs::path& source) {
  std::vector<fs::path> roots{fs::canonical(source)};
  const fs::path snapshots = roots[0].parent_path();
  if (snapshots.filename() == "snapshots" && fs::is_directory(snapshots.parent_path() / "blobs"))
    roots.push_back(fs::canonical(snapshots.parent_path() / "blobs"));
  return roots;
}

bool inside(const fs::path& path, const fs::path& root) {
  const fs::path rel = path.lexically_relative(root);
  return !rel.empty() && *rel.begin() != ".." && rel != ".";
}

// config.json's num_hidden_layers when it is an integer (ModelConfig::parse reports anything else).
std::optional<int64_t> declaredLayers(const std::string& configText) {
  const nlohmann::json j = nlohmann::json::parse(configText, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("num_hidden_layers") || !j["num_hidden_layers"].is_number_integer())
    return std::nullopt;
  return j["num_hidden_layers"].get<int64_t>();
}

// 1 + the largest N of the checkpoint's model.layers.N.* weights (0 without any).
int64_t checkpointLayers(const std::map<std::string, at::Tensor>& stored) {
  static const std::string kPrefix = "model.layers.";
  int64_t layers = 0;
  for (const auto& entry : stored) {
    const std::string& name = entry.first;
    if (name.rfind(kPrefix, 0) != 0) continue;
    int64_t index = 0;
    size_t i = kPrefix.size();
    for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) && index < (int64_t{1} << 40); ++i)
      index = index * 10 + (name[i] - '0');
    if (i > kPrefix.size() && i < name.size() && name[i] == '.') layers = std::max(layers, index + 1);
  }
  return layers;
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
    case at::kFloat:
      return "float32";
    case at::kBFloat16:
      return "bfloat16";
    case at::kHalf:
      return "float16";
    default:
      throw invalidArgument(std::string("no Hugging Face dtype name for ") + c10::toString(type));
  }
}

PretrainedModel loadPretrained(const std::string& dir, const LoadOptions& options) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw Error("ERR_NOT_FOUND", dir + ": not a directory");
  const fs::path configPath = root / "config.json";
  const std::string configText = readText(configPath);
  // The layer count is checked against the weights before anything is built per layer: a config.json asking for
  // 10^9 layers would otherwise take gigabytes listing the weights it expects before finding them missing.
  std::map<std::string, at::Tensor> stored;
  const std::optional<int64_t> declared = declaredLayers(configText);
  if (declared) {
    stored = io::readCheckpointTensors(dir);
    const int64_t held = checkpointLayers(stored);
    if (*declared != held)
      throw invalidModel(configPath.string(), "num_hidden_layers is " + std::to_string(*declared) +
                                                  ", but the checkpoint holds the weights of " + std::to_string(held) +
                                                  " layer(s) (model.layers.0 to model.layers." +
                                                  std::to_string(held - 1) + ")");
  }
  ModelConfig config = ModelConfig::parse(configText, configPath.string());

  at::Device device(at::kCPU);
  try {
    device = at::Device(options.device);
  } catch (const c10::Error&) {
    throw invalidArgument("device: '" + options.device + "' is not a device (expected cpu, cuda or cuda:N)");
  }
  if (device.is_cuda() && !at::hasCUDA())
    throw invalidArgument("device: '" + options.device + "' requested but this libtorch has no usable CUDA device");
  const std::string dtypeChoice = options.dtype.empty() ? (device.is_cpu() ? "float32" : "auto") : options.dtype;
  const at::ScalarType dtype = parseDtype(dtypeChoice == "auto" ? config.dtype : dtypeChoice,
                                          dtypeChoice == "auto" ? "config.json dtype" : "dtype");

  if (!declared) stored = io::readCheckpointTensors(dir);
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
    throw invalidModel(
        dir, "checkpoint holds weight(s) that a " + config.modelType +
                 " model with this config.json does not use (wrong model_type or flags?): " + listSome(unexpected));

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
  io::writeFileDurably((root / "config.json").string(), config.dump(2) + "\n");

  copyCompanionFiles(model.sourceDir, dir);
}

void copyCompanionFiles(const std::string& sourceDir, const std::string& dir) {
  const fs::path source(sourceDir), root(dir);
  if (fs::exists(root) && fs::equivalent(source, root)) return;
  const std::vector<fs::path> roots = companionRoots(source);
  for (const char* name : kCompanionFiles) {
    const fs::path from = source / name;
    if (!fs::exists(from)) continue;  // absent, or a dangling link: nothing to carry along
    // A link is followed only within the folder: one to /etc/shadow named tokenizer.model must not be copied out.
    const fs::path target = fs::canonical(from);
    if (std::none_of(roots.begin(), roots.end(), [&](const fs::path& r) { return inside(target, r); }))
      throw invalidModel(from.string(),
                         "is a link to a file outside the model folder; a saved model copies only "
                         "the folder's own files (replace the link with a copy of the file)");
    if (!fs::is_regular_file(target))
      throw invalidModel(from.string(), "is not a regular file; a saved model copies only regular files");
    std::ifstream in(target, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    if (!in) throw Error("ERR_IO", from.string() + ": cannot be read");
    io::writeFileDurably((root / name).string(), bytes.str());
  }
}

}  // namespace alignkit::models
