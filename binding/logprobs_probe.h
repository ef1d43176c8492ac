// The addon's probeLogProbs: the log-prob kernels on recorded tensors, without a model (native/ops/logprobs_probe.h).
#pragma once

#include <napi.h>

namespace alignkit::binding {

void registerLogProbsProbe(Napi::Env env, Napi::Object exports);

}  // namespace alignkit::binding
