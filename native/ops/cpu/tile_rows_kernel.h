// tileRows' kernel (tile_rows.h), included by one source file per instruction set: Vectorized<float> is that
// set's (AVX2 with Sleef's exp and tanh, or the portable default).
#pragma once

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <functional>
#include <limits>

#include "ops/cpu/tile_rows.h"

namespace alignkit::ops::cpu {
namespace {

using Vec = at::vec::Vectorized<float>;

// The logits transform (ops/logits_transform.h) of a row in place, in float32, by torch's operations (true
// divisions, then tanh).
void transformRow(float* x, int64_t cols, const LogitsTransform& tf) {
  const int64_t n = Vec::size(), full = cols - cols % n, rest = cols - full;
  const bool scale = tf.scaling != 1.0, cap = tf.softcap > 0.0;
  const Vec scaling(static_cast<float>(tf.scaling)), softcap(static_cast<float>(tf.softcap));
  auto apply = [&](Vec v) {
    if (scale) v = v / scaling;
    if (cap) v = (v / softcap).tanh() * softcap;
    return v;
  };
  for (int64_t j = 0; j < full; j += n) apply(Vec::loadu(x + j)).store(x + j);
  if (rest) apply(Vec::loadu(x + full, rest)).store(x + full, rest);
}

// dz/ds at the transformed logits z: (1 - tanh^2) / scaling, with tanh(z0 / softcap) taken back as z / softcap.
template <typename V>
V transformDerivative(V z, const LogitsTransform& tf) {
  V d(1.f);
  if (tf.softcap > 0.0) {
    const V t = z / V(static_cast<float>(tf.softcap));
    d = d - t * t;
  }
  if (tf.scaling != 1.0) d = d / V(static_cast<float>(tf.scaling));
  return d;
}

void tileRow(const TileRows& a, int64_t i) {
  float* x = a.z + i * a.cols;
  const int64_t n = Vec::size(), full = a.cols - a.cols % n, rest = a.cols - full;
  // Sweep 0: the row's logits from h W^T, in place.
  const bool transformed = !a.transform.identity();
  if (transformed) transformRow(x, a.cols, a.transform);
  // Sweep 1: the max (NaN-propagating, as torch.amax) and the sum.
  Vec vmax(-std::numeric_limits<float>::infinity()), vsum(0.f);
  for (int64_t j = 0; j < full; j += n) {
    const Vec v = Vec::loadu(x + j);
    vmax = at::vec::maximum(vmax, v);
    vsum = vsum + v;
  }
  if (rest) {
    const Vec v = Vec::loadu(x + full, rest);  // zeros past the row's end
    vmax = at::vec::maximum(vmax, Vec::set(vmax, v, rest));
    vsum = vsum + v;
  }
  const float m = at::vec::vec_reduce_all<float>([](Vec& p, Vec& q) { return at::vec::maximum(p, q); }, vmax);
  a.max[i] = m;
  a.sumLogits[i] = at::vec::vec_reduce_all<float>(std::plus<Vec>(), vsum);

  // The label's logit, and where the first maximum is (torch.argmax's choice on ties).
  const int64_t label = a.labels[i] - a.v0;
  const bool labelHere = a.labels[i] >= 0 && label >= 0 && label < a.cols;
  if (labelHere) a.labelLogit[i] = x[label];
  int64_t arg = -1;
  if (a.firstArgmax) {
    const float* first = std::find(x, x + a.cols, m);
    if (first != x + a.cols) arg = a.v0 + (first - x);
  } else if (labelHere && x[label] == m && std::find(x, x + label, m) == x + label) {
    arg = a.labels[i];
  }
  a.argmax[i] = arg;

  // Sweep 2, the row still in cache: d = z - m, e = exp(d). With a transform z stays for sweep 3's dz/ds.
  const bool keepE = a.g && !transformed;
  const Vec vm(m);
  Vec vs(0.f), vt(0.f), vu(0.f);
  for (int64_t j = 0; j < full; j += n) {
    const Vec d = Vec::loadu(x + j) - vm, e = d.exp();
    vs = vs + e;
    vt = at::vec::fmadd(e, d, vt);
    vu = at::vec::fmadd(e, e, vu);
    if (keepE) e.store(x + j);
  }
  if (rest) {
    const Vec zero(0.f);
    const Vec d = Vec::set(zero, Vec::loadu(x + full, rest) - vm, rest), e = Vec::set(zero, d.exp(), rest);
    vs = vs + e;
    vt = at::vec::fmadd(e, d, vt);
    vu = at::vec::fmadd(e, e, vu);
    if (keepE) e.store(x + full, rest);
  }
  const float s = at::vec::vec_reduce_all<float>(std::plus<Vec>(), vs);
  a.s[i] = s;
  a.t[i] = at::vec::vec_reduce_all<float>(std::plus<Vec>(), vt);
  a.u[i] = at::vec::vec_reduce_all<float>(std::plus<Vec>(), vu);
  if (!a.g) return;

  // Sweep 3: dz = g (onehot - e / s), as the factor -g / s times e, then + g at the label; with a transform,
  // e is made again from z, and both terms take dz/ds.
  const float g = a.labels[i] < 0 ? 0.f : a.g[i];
  const Vec factor(-g / s);
  if (!transformed) {
    for (int64_t j = 0; j < full; j += n) (Vec::loadu(x + j) * factor).store(x + j);
    if (rest) (Vec::loadu(x + full, rest) * factor).store(x + full, rest);
    if (labelHere) x[label] += g;
    return;
  }
  const float zLabel = labelHere ? x[label] : 0.f;
  auto dz = [&](Vec z) { return (z - vm).exp() * factor * transformDerivative(z, a.transform); };
  for (int64_t j = 0; j < full; j += n) dz(Vec::loadu(x + j)).store(x + j);
  if (rest) dz(Vec::loadu(x + full, rest)).store(x + full, rest);
  if (labelHere) x[label] += g * transformDerivative(zLabel, a.transform);
}

void tileRowsKernel(const TileRows& a) {
  at::parallel_for(0, a.rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) tileRow(a, i);
  });
}

}  // namespace
}  // namespace alignkit::ops::cpu
