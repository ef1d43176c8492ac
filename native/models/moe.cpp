#include "models/moe.h"

#include "common/error.h"

namespace alignkit::models {

at::Tensor moeMlp(const at::Tensor& x, const ExpertWeights& w, const MoeConfig& c, Activation activation,
                  std::vector<at::Tensor>* routerLogits) {
  const int64_t hidden = x.size(-1), E = c.numExperts, K = c.topK;
  const at::Tensor flat = x.reshape({-1, hidden});  // (N, hidden)
  if (flat.size(0) == 0) return at::zeros_like(x);
  // The router (MixtralTopKRouter, Qwen3MoeTopKRouter): softmax in float32, top-k, renormalised where the family does.
  const at::Tensor logits = at::linear(flat, w.router);  // (N, E)
  if (routerLogits) routerLogits->push_back(logits);
  auto [top, chosen] = at::topk(at::softmax(logits, -1, at::kFloat), K, -1);  // (N, K) each
  if (c.normTopkProb) top = top / top.sum(-1, /*keepdim=*/true);
  if (c.weightsInModelDtype) top = top.to(logits.scalar_type());

  // Group the N·K (token, expert) assignments by expert: sorted stably, so each expert's tokens keep their order
  // and each token's outputs are added in expert order, as transformers' per-expert index_add_ adds them.
  const at::Tensor assignment = chosen.reshape({-1});
  const at::Tensor order = std::get<1>(at::sort(assignment, /*stable=*/true, /*dim=*/0, /*descending=*/false));
  const at::Tensor counts = at::bincount(assignment, {}, E).cpu();
  const at::Tensor tokens = at::floor_divide(order, K);  // (N·K) token of each sorted assignment
  const at::Tensor weights = top.reshape({-1}).index_select(0, order).unsqueeze(1);
  const at::Tensor routed = flat.index_select(0, tokens);  // (N·K, hidden)
  std::vector<at::Tensor> outputs;
  int64_t offset = 0;
  const int64_t* count = counts.data_ptr<int64_t>();
  for (int64_t e = 0; e < E; ++e) {
    if (count[e] == 0) continue;
    const at::Tensor xs = routed.narrow(0, offset, count[e]);
    const at::Tensor g = at::linear(xs, w.gate[e]), u = at::linear(xs, w.up[e]);
    const at::Tensor h = (activation == Activation::GeluTanh ? at::gelu(g, "tanh") : at::silu(g)) * u;
    at::Tensor y = at::linear(h, w.down[e]) * weights.narrow(0, offset, count[e]);
    outputs.push_back(y.to(x.scalar_type()));
    offset += count[e];
  }
  const at::Tensor out = at::zeros_like(flat).index_add(0, tokens, at::cat(outputs, 0));
  return out.view(x.sizes());
}

at::Tensor loadBalancingLoss(const std::vector<at::Tensor>& routerLogits, int64_t numExperts, int64_t topK,
                             const at::Tensor& attentionMask) {
  if (routerLogits.empty()) throw invalidArgument("loadBalancingLoss: no router logits (not a MoE model?)");
  const at::TensorOptions f32 = routerLogits[0].options().dtype(at::kFloat);
  at::Tensor tokensPerExpert = at::zeros({numExperts}, f32), probSum = at::zeros({numExperts}, f32);
  at::Tensor rows = at::zeros({}, f32);
  const at::Tensor mask =
      attentionMask.defined() ? attentionMask.reshape({-1}).to(routerLogits[0].device(), at::kFloat) : at::Tensor();
  for (const at::Tensor& layer : routerLogits) {
    if (mask.defined() && mask.size(0) != layer.size(0))
      throw invalidArgument("loadBalancingLoss: attention_mask covers " + std::to_string(mask.size(0)) +
                            " tokens, the router logits " + std::to_string(layer.size(0)));
    const at::Tensor probs = at::softmax(layer, -1);
    const at::Tensor selected = std::get<1>(at::topk(probs, topK, -1)).reshape({-1});
    if (mask.defined()) {
      tokensPerExpert =
          tokensPerExpert + at::zeros({numExperts}, f32).scatter_add(0, selected, mask.repeat_interleave(topK));
      probSum = probSum + (probs.to(at::kFloat) * mask.unsqueeze(-1)).sum(0);
      rows = rows + mask.sum();
    } else {
      tokensPerExpert = tokensPerExpert + at::bincount(selected, {}, numExperts).to(at::kFloat);
      probSum = probSum + probs.to(at::kFloat).sum(0);
      rows = rows + static_cast<double>(layer.size(0));
    }
  }
  return (tokensPerExpert / rows * (probSum / rows)).sum() * static_cast<double>(numExperts);
}

}  // namespace alignkit::models
