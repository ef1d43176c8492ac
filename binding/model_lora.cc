// NativeModel's LoRA calls: attach fresh adapters, load and save PEFT adapter folders, merge (native/models/lora.h).
#include "js_options.h"
#include "model.h"
#include "models/peft_adapter.h"

namespace alignkit::binding {
namespace {

// LoraConfig's fields under their PEFT names.
models::LoraConfig loraConfig(const Napi::Object& o) {
  Napi::Env env = o.Env();
  models::LoraConfig c;
  c.r = positiveIntOption(o, "r", c.r);
  c.loraAlpha = numberOption(o, "lora_alpha", c.loraAlpha);
  c.loraDropout = numberOption(o, "lora_dropout", c.loraDropout);
  c.useRslora = boolOption(o, "use_rslora");
  const Napi::Value t = o.Get("target_modules");
  if (!t.IsArray()) throw Napi::TypeError::New(env, "options.target_modules must be an array of strings");
  const Napi::Array a = t.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    if (!a.Get(i).IsString()) throw Napi::TypeError::New(env, "options.target_modules must be an array of strings");
    c.targetModules.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  return c;
}

std::string dirArg(const Napi::Value& v) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), "dir must be a string");
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace

// attachLora({ r, lora_alpha, lora_dropout, target_modules, use_rslora, seed? }) -> Promise<void>: fresh adapters
// with PEFT's initialisation (B zeros; A from a generator seeded as torch.manual_seed(seed), else the default one).
Napi::Value NativeModel::attachLora(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  const Napi::Object options = info[0].As<Napi::Object>();
  const models::LoraConfig config = loraConfig(options);
  std::optional<uint64_t> seed;
  if (!options.Get("seed").IsUndefined()) seed = static_cast<uint64_t>(numberOption(options, "seed", 0));
  return whileLocked(env, [config, seed](ModelState& state) {
    models::CausalLM& model = state.causalLM();
    config.validate();
    const auto weights = models::initLoraWeights(models::loraTargets(model.config(), config), config.r,
                                                 at::TensorOptions().dtype(model.dtype()), seed);
    model.attachLora(config, weights);
  });
}

// loadAdapter(dir) -> Promise<void>: a PEFT LoRA folder (adapter_config.json + adapter_model.safetensors).
Napi::Value NativeModel::loadAdapter(const Napi::CallbackInfo& info) {
  const std::string dir = dirArg(info[0]);
  return whileLocked(info.Env(), [dir](ModelState& state) { models::loadPeftAdapter(state.causalLM(), dir); });
}

// saveAdapter(dir) -> Promise<void>: the adapters as PEFT writes them, base_model_name_or_path the source folder.
Napi::Value NativeModel::saveAdapter(const Napi::CallbackInfo& info) {
  const std::string dir = dirArg(info[0]);
  return whileLocked(
      info.Env(), [dir](ModelState& state) { models::savePeftAdapter(state.causalLM(), dir, state.model.sourceDir); });
}

// disableDropout() -> Promise<void>: LoRA dropout off from now on (TRL's disable_dropout_in_model).
Napi::Value NativeModel::disableDropout(const Napi::CallbackInfo& info) {
  return whileLocked(info.Env(), [](ModelState& state) { state.causalLM().disableDropout(); });
}

// mergeLora() -> Promise<void>: W += scaling · B A, adapters dropped; save() then writes the merged model.
Napi::Value NativeModel::mergeLora(const Napi::CallbackInfo& info) {
  return whileLocked(info.Env(), [](ModelState& state) { state.causalLM().mergeLora(); });
}

}  // namespace alignkit::binding
