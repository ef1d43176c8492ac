#include "generate/sampling.h"

#include <c10/util/StringUtil.h>

#include <cmath>
#include <limits>

#include "common/error.h"

namespace alignkit::generate {

void checkSamplingOptions(const SamplingOptions& o) {
  if (!(o.temperature > 0) || !std::isfinite(o.temperature))
    throw invalidArgument(c10::str("temperature must be a finite number > 0, got ", o.temperature,
                                   " (greedy decoding is do_sample: false)"));
  if (o.topK < 0) throw invalidArgument(c10::str("top_k must be an integer >= 0 (0 turns it off), got ", o.topK));
  if (!(o.topP >= 0 && o.topP <= 1)) throw invalidArgument(c10::str("top_p must be in [0, 1], got ", o.topP));
}

at::Tensor warpLogits(const at::Tensor& scores, const SamplingOptions& o) {
  checkSamplingOptions(o);
  constexpr double kFiltered = -std::numeric_limits<double>::infinity();
  at::Tensor out = scores;
  if (o.temperature != 1.0) out = out / o.temperature;
  if (o.topK > 0) {
    // Everything below the k-th highest score goes; ties with it stay.
    const int64_t k = std::min(o.topK, out.size(-1));
    const at::Tensor kth = std::get<0>(at::topk(out, k)).narrow(-1, k - 1, 1);
    out = out.masked_fill(out < kth, kFiltered);
  }
  if (o.topP < 1.0) {
    // Ascending order: drop the low tail whose mass is <= 1 - top_p, always keeping the highest score.
    const auto [sorted, order] = at::sort(out, /*dim=*/-1, /*descending=*/false);
    const at::Tensor cumulative = sorted.softmax(-1).cumsum(-1);
    const at::Tensor drop = cumulative <= (1 - o.topP);
    drop.narrow(-1, drop.size(-1) - 1, 1).fill_(false);
    out = out.masked_fill(drop.scatter(1, order, drop), kFiltered);
  }
  return out;
}

at::Tensor nextTokens(const at::Tensor& logits, const SamplingOptions& o, at::Generator& generator) {
  if (!o.doSample) return logits.argmax(-1);
  const at::Tensor probs = warpLogits(logits, o).softmax(-1);
  return at::multinomial(probs, 1, /*replacement=*/false, generator).squeeze(1);
}

}  // namespace alignkit::generate
