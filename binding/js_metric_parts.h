// A step's metric parts (native/train/metric_parts.h) on its JS result: parts { TRL name: [sum, count] } in the
// order TRL logs them, and num_tokens. src/train/metrics.ts reduces them.
#pragma once

#include <napi.h>

#include "train/metric_parts.h"

namespace alignkit::binding {

inline void setMetricParts(Napi::Object out, const train::MetricParts& m) {
  Napi::Env env = out.Env();
  Napi::Object parts = Napi::Object::New(env);
  for (const train::MetricPart& p : m.parts) {
    Napi::Array part = Napi::Array::New(env, 2);
    part.Set(uint32_t{0}, p.sum);
    part.Set(uint32_t{1}, p.count);
    parts.Set(p.name, part);
  }
  out.Set("parts", parts);
  out.Set("num_tokens", static_cast<double>(m.numTokens));
}

}  // namespace alignkit::binding
