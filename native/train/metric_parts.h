// TRL's metrics of one micro-batch as (sum, count) parts: for each metric name, the sum of its values over what it
// averages (pairs, rows, one side's completion tokens, ...) and how many those are. A step returns parts, never
// means: src/train/metrics.ts divides them for one process, and data-parallel ranks add them up first, as TRL
// gathers sums and counts (accelerator.gather_for_metrics) before it divides.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace alignkit::train {

struct MetricPart {
  std::string name;  // TRL's metric name ("rewards/chosen", "entropy", ...)
  double sum;
  double count;
};

struct MetricParts {
  std::vector<MetricPart> parts;  // in the order TRL logs them
  int64_t numTokens = 0;          // num_tokens: attention tokens of the micro-batch (added up, never divided)

  void add(std::string name, double sum, double count) { parts.push_back({std::move(name), sum, count}); }
  // The sum of a tensor's values in double (a float32 sum over a large batch would lose digits).
  void add(std::string name, const at::Tensor& values, double count) {
    add(std::move(name), values.to(at::kDouble).sum().item<double>(), count);
  }
};

}  // namespace alignkit::train
