// probeLogProbs(hidden: Float32Array (N * C), weight: Float32Array (V * C), labels: Int32Array (N),
//   gradOutput: Float32Array (N), hiddenSize C, { op?: 'fused' | 'loss' | 'reference', rowChunk?, vocabChunk?,
//   logits_scaling?, final_logit_softcapping?, bf16? })
//   -> Promise<{ logps, meanLogit, entropy, logSumSquaredProbs, correct, dHidden, dWeight }> of { data, shape }.
#include "logprobs_probe.h"

#include <string>
#include <vector>

#include "js_options.h"
#include "ops/logprobs_probe.h"
#include "promise_worker.h"
#include "tensor_view.h"

namespace alignkit::binding {
namespace {

Napi::Value probeLogProbs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  for (size_t i = 0; i < 4; ++i)
    if (!info[i].IsTypedArray())
      throw Napi::TypeError::New(env, "hidden, weight, labels and gradOutput are required typed arrays");
  const int64_t n = info[2].As<Napi::TypedArray>().ElementLength(), c = positiveInt(info[4], "hiddenSize");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().ElementLength() % c != 0)
    throw Napi::TypeError::New(env, "weight must be a Float32Array of vocab * hiddenSize values");
  const int64_t v = info[1].As<Napi::TypedArray>().ElementLength() / c;
  std::vector<Napi::Value> keepAlive;
  const at::Tensor hidden = float32View(info[0], n * c, "hidden", keepAlive).view({n, c});
  const at::Tensor weight = float32View(info[1], v * c, "weight", keepAlive).view({v, c});
  const at::Tensor gradOutput = float32View(info[3], n, "gradOutput", keepAlive);
  const at::Tensor labels = viewBatchArray(info[2], 1, n, "labels").view({n});
  keepAlive.push_back(info[2]);
  const Napi::Object options = info[5].IsObject() ? info[5].As<Napi::Object>() : Napi::Object::New(env);
  ops::LogProbsProbeOptions opts;
  opts.op = stringOption(options, "op", opts.op);
  opts.chunks = chunkOptions(options);
  opts.transform.scaling = numberOption(options, "logits_scaling", opts.transform.scaling);
  opts.transform.softcap = numberOption(options, "final_logit_softcapping", opts.transform.softcap);
  opts.bf16 = boolOption(options, "bf16");
  return PromiseWorker<ops::LogProbsProbe>::start(
      env, [=] { return ops::probeLogProbs(hidden, weight, labels, gradOutput, opts); },
      [](Napi::Env env, ops::LogProbsProbe& r) {
        Napi::Object out = Napi::Object::New(env);
        out.Set("logps", toFloat32Result(env, r.tokens.logps));
        out.Set("meanLogit", toFloat32Result(env, r.tokens.meanLogit));
        out.Set("entropy", toFloat32Result(env, r.tokens.entropy));
        out.Set("logSumSquaredProbs", toFloat32Result(env, r.tokens.logSumSquaredProbs));
        out.Set("correct", toTypedResult(env, r.tokens.correct));
        out.Set("dHidden", toFloat32Result(env, r.dHidden));
        out.Set("dWeight", toFloat32Result(env, r.dWeight));
        return out;
      },
      keepAlive);
}

}  // namespace

void registerLogProbsProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("probeLogProbs", Napi::Function::New<probeLogProbs>(env, "probeLogProbs"));
}

}  // namespace alignkit::binding
