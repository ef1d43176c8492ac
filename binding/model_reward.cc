// NativeModel's reward-model step (native/train/reward_step.h) and the fresh score head of a reward model built
// from a causal LM folder (native/train/score_head.h).
#include <optional>
#include <string>

#include "js_metric_parts.h"
#include "js_options.h"
#include "model.h"
#include "promise_worker.h"
#include "tensor_view.h"
#include "train/reward_step.h"
#include "train/score_head.h"

namespace alignkit::binding {

namespace {

std::optional<double> optionalNumber(const Napi::Object& options, const char* key) {
  const Napi::Value v = options.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string(key) + " must be a number or null");
  return v.As<Napi::Number>().DoubleValue();
}

}  // namespace

// rewardStep(inputIds, attentionMask?, batch, seqLen, margin?: Float32Array (batch / 2), options: {
//   pad_token_id?, center_rewards_coefficient? (TRL names), backward? (default true), lossScale? (default 1),
//   syncGradients? (default true), bf16?, gradient_checkpointing?, checkpointed_layers? }) -> Promise<{ loss,
//   parts: { TRL name: [sum, count] }, num_tokens, rewards: Float32Array (batch) }>; the gradient of
//   lossScale · loss is accumulated into the model's parameters unless backward is false.
Napi::Value NativeModel::rewardStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t batch = positiveInt(info[2], "batch"), seqLen = positiveInt(info[3], "seqLen");
  if (batch % 2 != 0) throw Napi::TypeError::New(env, "batch must hold [chosen, rejected] pairs (an even count)");
  train::RewardBatch b;
  b.inputIds = viewBatchArray(info[0], batch, seqLen, "inputIds");
  b.attentionMask = viewBatchArray(info[1], batch, seqLen, "attentionMask");
  if (!b.inputIds.defined()) throw Napi::TypeError::New(env, "inputIds is required");
  std::vector<Napi::Value> keepAlive;
  for (size_t i : {0, 1})
    if (info[i].IsObject()) keepAlive.push_back(info[i]);
  b.margin = float32View(info[4], batch / 2, "margin", keepAlive);
  const Napi::Object options = info[5].IsObject() ? info[5].As<Napi::Object>() : Napi::Object::New(env);
  train::RewardStepOptions stepOptions;
  if (const auto pad = optionalNumber(options, "pad_token_id")) stepOptions.pad_token_id = static_cast<int64_t>(*pad);
  stepOptions.center_rewards_coefficient = optionalNumber(options, "center_rewards_coefficient");
  stepOptions.forward = forwardOptions(options);
  const train::StepBackward backward = stepBackward(options);
  const bool syncGradients = boolOption(options, "syncGradients", true) && backward.backward;
  auto state = state_;
  return PromiseWorker<train::RewardStepResult>::start(
      env,
      [state, b, stepOptions, backward, syncGradients] {
        std::lock_guard<std::mutex> lock(state->mutex);
        return state->trainingStep(syncGradients,
                                   [&] { return train::rewardStep(state->causalLM(), b, stepOptions, backward); });
      },
      [](Napi::Env env, train::RewardStepResult& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("loss", r.loss);
        setMetricParts(out, r.metrics);
        out.Set("rewards", toFloat32Result(env, r.rewards).Get("data"));
        return out;
      },
      keepAlive);
}

// writeScoreHeadWeights(sourceDir, outDir, hiddenSize, std, seed) -> Promise<void>: the causal LM's weights without
// lm_head, with a fresh score.weight ~ N(0, std²) drawn after torch.manual_seed(seed), and its tokenizer files.
Napi::Value NativeModel::writeScoreHeadWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsString())
    throw Napi::TypeError::New(env, "sourceDir and outDir must be strings");
  const std::string source = info[0].As<Napi::String>().Utf8Value(), out = info[1].As<Napi::String>().Utf8Value();
  const int64_t hidden = positiveInt(info[2], "hiddenSize");
  if (!info[3].IsNumber() || !info[4].IsNumber()) throw Napi::TypeError::New(env, "std and seed must be numbers");
  const double std = info[3].As<Napi::Number>().DoubleValue();
  const auto seed = static_cast<uint64_t>(info[4].As<Napi::Number>().Int64Value());
  return PromiseWorker<bool>::start(
      env,
      [source, out, hidden, std, seed] {
        train::writeScoreHeadWeights(source, out, hidden, std, seed);
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

}  // namespace alignkit::binding
