#include "models/peft_adapter.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "io/checkpoint.h"
#include "io/json_error.h"
#include "io/safetensors.h"
#include "models/pretrained.h"

namespace alignkit::models {
namespace fs = std::filesystem;
namespace {

// PeftModel.save_pretrained prefixes every key with the wrapper's path and drops the adapter name.
const std::string kPrefix = "base_model.model.";
const std::string kGateUpPattern = ".*\\.gate_up_proj";

nlohmann::json readJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("ERR_NOT_FOUND", path.string() + ": cannot be read (is this a PEFT adapter folder?)");
  std::stringstream buf;
  buf << in.rdbuf();
  try {
    return nlohmann::json::parse(buf.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw Error("ERR_INVALID_FILE", path.string() + ": " + io::notValidJson(e.byte));
  }
}

// Fields whose non-default value changes the computation in ways alignkit does not implement.
void refuseUnsupported(const nlohmann::json& c, const std::string& where) {
  auto field = [&](const char* key, const std::string& expected) {
    return where + ": " + key + " " + (c.contains(key) ? c[key].dump() : "") + " is not supported (expected " +
           expected + ")";
  };
  if (c.value("peft_type", "") != "LORA") throw invalidArgument(field("peft_type", "\"LORA\""));
  if (c.value("use_dora", false)) throw invalidArgument(field("use_dora", "false"));
  if (c.contains("bias") && c["bias"] != "none") throw invalidArgument(field("bias", "\"none\""));
  if (c.value("lora_bias", false)) throw invalidArgument(field("lora_bias", "false"));
  for (const char* key : {"layers_to_transform", "layer_replication"})
    if (c.contains(key) && !c[key].is_null() && !c[key].empty()) throw invalidArgument(field(key, "null"));
  // The one pattern PEFT's all-linear conversion writes on a MoE model: the fused gate_up_proj's rank and alpha.
  for (const char* key : {"rank_pattern", "alpha_pattern"})
    if (c.contains(key) && !c[key].is_null() && !c[key].empty() &&
        (!c[key].is_object() || c[key].size() != 1 || !c[key].contains(kGateUpPattern) ||
         !c[key][kGateUpPattern].is_number()))
      throw invalidArgument(field(key, "{} or {\"" + kGateUpPattern + "\": number}"));
}

LoraConfig parseAdapterConfig(const nlohmann::json& c, const std::string& where) {
  refuseUnsupported(c, where);
  LoraConfig lora;
  try {
    lora.r = c.at("r").get<int64_t>();
    lora.loraAlpha = c.at("lora_alpha").get<double>();
    lora.loraDropout = c.value("lora_dropout", 0.0);
    lora.useRslora = c.value("use_rslora", false);
    // target_modules may be null when target_parameters alone are adapted (a MoE model's router and experts).
    const nlohmann::json t = c.value("target_modules", nlohmann::json());
    if (t.is_string())
      lora.targetModules = {t.get<std::string>()};
    else if (!t.is_null())
      lora.targetModules = t.get<std::vector<std::string>>();
    if (c.contains("target_parameters") && !c["target_parameters"].is_null())
      lora.targetParameters = c["target_parameters"].get<std::vector<std::string>>();
    // Held by name: a range-for over a temporary's items() would read it after its end.
    const nlohmann::json ranks = c.value("rank_pattern", nlohmann::json::object()),
                         alphas = c.value("alpha_pattern", nlohmann::json::object());
    for (const auto& [key, value] : ranks.items()) lora.rankPattern[key] = value.get<int64_t>();
    for (const auto& [key, value] : alphas.items()) lora.alphaPattern[key] = value.get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw invalidArgument(where + ": r (integer), lora_alpha (number) and target_modules (list of names) expected (" +
                          e.what() + ")");
  }
  return lora;
}

}  // namespace

void loadPeftAdapter(CausalLM& model, const std::string& dir) {
  const fs::path root(dir);
  const fs::path configPath = root / "adapter_config.json";
  const nlohmann::json config = readJson(configPath);
  const LoraConfig lora = parseAdapterConfig(config, configPath.string());
  // PEFT's SEQ_CLS task saves the classifier head whole (modules_to_save ["classifier", "score"]); nothing else is.
  if (config.contains("modules_to_save") && !config["modules_to_save"].is_null()) {
    for (const nlohmann::json& module : config["modules_to_save"])
      if (model.config().numLabels == 0 || !module.is_string() ||
          (module.get<std::string>() != "score" && module.get<std::string>() != "classifier"))
        throw invalidArgument(configPath.string() + ": modules_to_save " + config["modules_to_save"].dump() +
                              " is not supported (expected null, or [\"classifier\", \"score\"] on a "
                              "*ForSequenceClassification model)");
  }
  const fs::path weightsPath = root / "adapter_model.safetensors";
  if (!fs::exists(weightsPath))
    throw Error("ERR_NOT_FOUND", weightsPath.string() + ": missing (PEFT adapter weights are expected there)");
  const io::SafetensorsFile file = io::SafetensorsFile::open(weightsPath.string());
  NamedTensors weights;
  for (const std::string& name : file.names()) {
    if (name.rfind(kPrefix, 0) != 0)
      throw invalidModel(weightsPath.string(), "tensor '" + name + "' lacks PEFT's '" + kPrefix + "' prefix");
    weights.emplace_back(name.substr(kPrefix.size()), file.tensor(name));
  }
  try {
    model.attachLora(lora, weights);
  } catch (const Error& e) {
    throw invalidModel(dir, e.what());
  }
}

void savePeftAdapter(const CausalLM& model, const std::string& dir, const std::string& baseModel) {
  if (!model.lora()) throw invalidArgument("saveAdapter: this model has no LoRA adapters");
  const LoraConfig& lora = *model.lora();
  const fs::path root(dir);
  fs::create_directories(root);

  NamedTensors tensors;
  for (const auto& [name, t] : model.adapterParameters()) tensors.emplace_back(kPrefix + name, t.detach());
  io::writeSafetensors((root / "adapter_model.safetensors").string(), tensors, {{"format", "pt"}});

  // all-linear is stored expanded to module paths, as PEFT stores it.
  std::vector<std::string> targets = lora.targetModules;
  if (std::find(targets.begin(), targets.end(), "all-linear") != targets.end()) {
    targets.clear();
    for (const LoraTarget& t : loraTargets(model.config(), lora))
      if (t.parameter.empty()) targets.push_back(t.module);
  }
  std::sort(targets.begin(), targets.end());
  nlohmann::ordered_json c;
  // LoraConfig's fields in the order PEFT 0.21 writes them (sorted), at its defaults except ours.
  c["alora_invocation_tokens"] = nullptr;
  // An integral number is written as an integer, as Python writes the ints LoraConfig usually holds.
  auto number = [](double v) {
    return v == std::floor(v) ? nlohmann::ordered_json(static_cast<int64_t>(v)) : nlohmann::ordered_json(v);
  };
  c["alpha_pattern"] = nlohmann::json::object();
  for (const auto& [key, alpha] : lora.alphaPattern) c["alpha_pattern"][key] = number(alpha);
  c["arrow_config"] = nullptr;
  c["auto_mapping"] = nullptr;
  c["base_model_name_or_path"] = baseModel;
  c["bias"] = "none";
  c["corda_config"] = nullptr;
  c["ensure_weight_tying"] = false;
  c["eva_config"] = nullptr;
  c["exclude_modules"] = nullptr;
  c["fan_in_fan_out"] = false;
  c["inference_mode"] = true;
  c["init_lora_weights"] = true;
  c["kasa_config"] = nullptr;
  c["layer_replication"] = nullptr;
  c["layers_pattern"] = nullptr;
  c["layers_to_transform"] = nullptr;
  c["loftq_config"] = nlohmann::json::object();
  // An integral alpha is written as an integer, as Python writes the int LoraConfig usually holds.
  if (lora.loraAlpha == std::floor(lora.loraAlpha))
    c["lora_alpha"] = static_cast<int64_t>(lora.loraAlpha);
  else
    c["lora_alpha"] = lora.loraAlpha;
  c["lora_bias"] = false;
  c["lora_dropout"] = lora.loraDropout;
  c["lora_ga_config"] = nullptr;
  c["megatron_config"] = nullptr;
  c["megatron_core"] = "megatron.core";
  const bool classifier = model.config().numLabels > 0;
  if (classifier)
    c["modules_to_save"] = {"classifier", "score"};
  else
    c["modules_to_save"] = nullptr;
  c["monteclora_config"] = nullptr;
  c["peft_type"] = "LORA";
  c["peft_version"] = "0.21.0";
  c["qalora_group_size"] = 16;
  c["r"] = lora.r;
  c["rank_pattern"] = nlohmann::json::object();
  for (const auto& [key, rank] : lora.rankPattern) c["rank_pattern"][key] = rank;
  c["revision"] = nullptr;
  c["target_modules"] = targets;
  if (lora.targetParameters.empty()) {
    c["target_parameters"] = nullptr;
  } else {
    std::vector<std::string> parameters = lora.targetParameters;
    std::sort(parameters.begin(), parameters.end());
    c["target_parameters"] = parameters;
  }
  c["task_type"] = classifier ? "SEQ_CLS" : "CAUSAL_LM";
  c["trainable_token_indices"] = nullptr;
  c["use_bdlora"] = nullptr;
  c["use_dora"] = false;
  c["use_qalora"] = false;
  c["use_rslora"] = lora.useRslora;
  c["velora_config"] = nullptr;
  io::writeFileDurably((root / "adapter_config.json").string(), c.dump(2) + "\n");
  copyCompanionFiles(baseModel, dir);
}

}  // namespace alignkit::models
