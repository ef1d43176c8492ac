// The CUDA logits-tile kernels of fusedLinearLogProbs, one block per tile row, one pass over the tile:
//   foldTile     (forward)  each thread runs an online softmax over its strided share of the row (max, sum-exp,
//                           the entropy term, sum p^2, sum of logits, argmax), cub's BlockReduce merges the
//                           threads, and thread 0 merges the tile into the running state (OnlineSoftmax).
//   tileGradient (backward) dz_j = g (onehot(label)_j - exp(z_j - lse)), written over the logits in place.
// Tiles keep the inputs' dtype (float32, bf16, fp16); everything is computed in float32. A logits transform
// (ops/logits_transform.h) is applied to each entry as it is read, in float32, and its derivative chained into
// dz; the kernels are built with and without it (kTransform), so the identity costs nothing.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cub/block/block_reduce.cuh>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "ops/logits_tile.h"

namespace alignkit::ops {
namespace {

constexpr int kThreads = 256;

// The online-softmax state of part of a row (see OnlineSoftmax): m the max, relative to which s = sum e_j,
// t = sum e_j (z_j - m), u = sum e_j^2 with e_j = exp(z_j - m); sum = sum z_j; arg the index of the max.
// s == 0 marks a part with no entries yet.
struct RowStats {
  float m, s, t, u, sum;
  int64_t arg;
};

// Combines two parts of a row, each rescaled to the larger max. Symmetric (a tie of maxima goes to the lower
// index, as torch.argmax's first maximum), as BlockReduce needs.
struct MergeRowStats {
  __device__ RowStats operator()(const RowStats& a, const RowStats& b) const {
    if (b.s == 0.f) return {a.m, a.s, a.t, a.u, a.sum + b.sum, a.arg};
    if (a.s == 0.f) return {b.m, b.s, b.t, b.u, a.sum + b.sum, b.arg};
    const float m = fmaxf(a.m, b.m), da = a.m - m, db = b.m - m, ea = expf(da), eb = expf(db);
    const int64_t arg = a.m > b.m ? a.arg : b.m > a.m ? b.arg : (a.arg < b.arg ? a.arg : b.arg);
    return {m,
            ea * a.s + eb * b.s,
            ea * (a.t + da * a.s) + eb * (b.t + db * b.s),
            ea * ea * a.u + eb * eb * b.u,
            a.sum + b.sum,
            arg};
  }
};

// Adds entry j (logit x) to a thread's part; a thread sees its entries in increasing j, so a strict > keeps
// the first of equal maxima. One exp per entry, and one more when the max moves.
__device__ __forceinline__ void push(RowStats& st, float x, int64_t j) {
  st.sum += x;
  if (x > st.m) {
    if (st.s > 0.f) {
      const float d = st.m - x, a = expf(d);
      st.t = a * (st.t + d * st.s);
      st.s *= a;
      st.u *= a * a;
    }
    st.m = x;
    st.arg = j;
  }
  const float d = x - st.m, e = expf(d);
  st.s += e;
  st.t += e * d;
  st.u += e * e;
}

// kPack entries loaded as one (16 bytes when kPack > 1).
template <typename T, int kPack>
struct alignas(sizeof(T) * kPack) Pack {
  T v[kPack];
};

// The logits transform on the device, in float32: z = s / scaling, then softcap * tanh(z / softcap).
struct DeviceTransform {
  float scaling, softcap;  // softcap 0: none

  __device__ __forceinline__ float operator()(float s) const {
    const float z = s / scaling;
    return softcap > 0.f ? softcap * tanhf(z / softcap) : z;
  }
  // z = (*this)(s) and dzds its derivative, from s.
  __device__ __forceinline__ void withDerivative(float s, float& z, float& dzds) const {
    z = s / scaling;
    dzds = 1.f / scaling;
    if (softcap > 0.f) {
      const float t = tanhf(z / softcap);
      z = softcap * t;
      dzds *= 1.f - t * t;
    }
  }
};

struct StatePointers {
  float *m, *s, *t, *u, *sumLogits, *labelLogit;
  int64_t* argmax;
};

// The logit of a tile entry: transformed when kTransform.
template <bool kTransform, typename T>
__device__ __forceinline__ float logitOf(T s, const DeviceTransform& tf) {
  if constexpr (kTransform)
    return tf(static_cast<float>(s));
  else
    return static_cast<float>(s);
}

// z (R, Vc) holds vocabulary entries v0 .. v0+Vc-1 (h W^T); block i folds row i into state row i. Vc % kPack == 0.
template <typename T, int kPack, bool kTransform>
__global__ void __launch_bounds__(kThreads)
    foldTile(const T* __restrict__ z, int64_t Vc, int64_t v0, const int64_t* __restrict__ labels, StatePointers st,
             DeviceTransform tf) {
  const int64_t i = blockIdx.x;
  const T* row = z + i * Vc;
  const auto* packs = reinterpret_cast<const Pack<T, kPack>*>(row);
  RowStats part{-INFINITY, 0.f, 0.f, 0.f, 0.f, 0};
  for (int64_t p = threadIdx.x; p < Vc / kPack; p += kThreads) {
    const Pack<T, kPack> pack = packs[p];
#pragma unroll
    for (int k = 0; k < kPack; ++k) push(part, logitOf<kTransform>(pack.v[k], tf), p * kPack + k);
  }
  using BlockReduce = cub::BlockReduce<RowStats, kThreads>;
  __shared__ typename BlockReduce::TempStorage scratch;
  RowStats tile = BlockReduce(scratch).Reduce(part, MergeRowStats());
  if (threadIdx.x != 0) return;
  tile.arg += v0;
  // The running state covers earlier entries: a tie keeps its (lower) index.
  const RowStats run = MergeRowStats()({st.m[i], st.s[i], st.t[i], st.u[i], st.sumLogits[i], st.argmax[i]}, tile);
  st.m[i] = run.m, st.s[i] = run.s, st.t[i] = run.t, st.u[i] = run.u, st.sumLogits[i] = run.sum;
  st.argmax[i] = run.arg;
  const int64_t label = labels[i];
  if (label >= v0 && label < v0 + Vc) st.labelLogit[i] = logitOf<kTransform>(row[label - v0], tf);
}

// z (R, Vc) for vocabulary v0 .. v0+Vc-1 (h W^T) becomes dZ, the gradient with respect to h W^T; g, lse (R).
// Vc % kPack == 0.
template <typename T, int kPack, bool kTransform>
__global__ void __launch_bounds__(kThreads)
    tileGradient(T* __restrict__ z, int64_t Vc, int64_t v0, const int64_t* __restrict__ labels,
                 const float* __restrict__ g, const float* __restrict__ lse, DeviceTransform tf) {
  const int64_t i = blockIdx.x;
  auto* packs = reinterpret_cast<Pack<T, kPack>*>(z + i * Vc);
  const int64_t label = labels[i], hit = label - v0;  // the label's column, when in [0, Vc)
  const float gi = label < 0 ? 0.f : g[i], lsei = lse[i];
  for (int64_t p = threadIdx.x; p < Vc / kPack; p += kThreads) {
    Pack<T, kPack> pack = packs[p];
#pragma unroll
    for (int k = 0; k < kPack; ++k) {
      const float onehot = p * kPack + k == hit ? 1.f : 0.f;
      if constexpr (kTransform) {
        float x, dzds;
        tf.withDerivative(static_cast<float>(pack.v[k]), x, dzds);
        pack.v[k] = static_cast<T>(gi * (onehot - expf(x - lsei)) * dzds);
      } else {
        const float prob = expf(static_cast<float>(pack.v[k]) - lsei);
        pack.v[k] = static_cast<T>(gi * (onehot - prob));
      }
    }
    packs[p] = pack;
  }
}

// Calls f(T{}) with T the C++ type of a tile dtype.
template <typename F>
void dispatchTileType(at::ScalarType dtype, F&& f) {
  switch (dtype) {
    case at::kFloat:
      return f(float{});
    case at::kBFloat16:
      return f(c10::BFloat16{});
    case at::kHalf:
      return f(c10::Half{});
    default:
      TORCH_CHECK(false, "fusedLinearLogProbs: no CUDA tile kernel for ", dtype);
  }
}

class CudaLogitsTileKernels final : public LogitsTileKernels {
 public:
  explicit CudaLogitsTileKernels(const LogitsTransform& transform)
      : identity_(transform.identity()),
        transform_{static_cast<float>(transform.scaling), static_cast<float>(transform.softcap)} {}

  ChunkSizes defaultChunks() const override { return {2048, 32768}; }

  // As many rows as keep the default tile's area.
  int64_t lossRowChunk(int64_t vocab) const override { return std::max<int64_t>(1, 2048 * 32768 / vocab); }

  at::ScalarType tileDtype(at::ScalarType input) const override {
    return input == at::kBFloat16 || input == at::kHalf ? input : at::kFloat;
  }

  void fold(at::Tensor& z, int64_t v0, const at::Tensor& labels, OnlineSoftmax& st) override {
    const StatePointers p{st.m.data_ptr<float>(),       st.s.data_ptr<float>(),         st.t.data_ptr<float>(),
                          st.u.data_ptr<float>(),       st.sumLogits.data_ptr<float>(), st.labelLogit.data_ptr<float>(),
                          st.argmax.data_ptr<int64_t>()};
    dispatchTileType(z.scalar_type(), [&](auto tag) {
      using T = decltype(tag);
      const T* zp = z.const_data_ptr<T>();
      forRows<T>(z, [&](auto pack, unsigned R, cudaStream_t stream) {
        constexpr int kPack = decltype(pack)::value;
        const int64_t* lab = labels.const_data_ptr<int64_t>();
        if (identity_)
          foldTile<T, kPack, false><<<R, kThreads, 0, stream>>>(zp, z.size(1), v0, lab, p, transform_);
        else
          foldTile<T, kPack, true><<<R, kThreads, 0, stream>>>(zp, z.size(1), v0, lab, p, transform_);
      });
    });
  }

  void gradient(at::Tensor& z, int64_t v0, const at::Tensor& labels, const at::Tensor& g,
                const at::Tensor& lse) override {
    dispatchTileType(z.scalar_type(), [&](auto tag) {
      using T = decltype(tag);
      T* zp = z.mutable_data_ptr<T>();
      forRows<T>(z, [&](auto pack, unsigned R, cudaStream_t stream) {
        constexpr int kPack = decltype(pack)::value;
        const int64_t* lab = labels.const_data_ptr<int64_t>();
        const float *gp = g.const_data_ptr<float>(), *lsep = lse.const_data_ptr<float>();
        if (identity_)
          tileGradient<T, kPack, false><<<R, kThreads, 0, stream>>>(zp, z.size(1), v0, lab, gp, lsep, transform_);
        else
          tileGradient<T, kPack, true><<<R, kThreads, 0, stream>>>(zp, z.size(1), v0, lab, gp, lsep, transform_);
      });
    });
  }

  // foldTile only reads z.
  void foldGradient(at::Tensor& z, const at::Tensor& labels, const at::Tensor& g, OnlineSoftmax& st) override {
    fold(z, 0, labels, st);
    gradient(z, 0, labels, g, st.m + st.s.log());
  }

 private:
  bool identity_;
  DeviceTransform transform_;

  // Calls launch(std::integral_constant<int, kPack>, R, stream) for the tile z (one block per row, R blocks) on
  // its device's current stream: kPack = 16 / sizeof(T) (16-byte loads) when every row of z starts 16-byte
  // aligned, else 1. Checks the launch.
  template <typename T, typename F>
  static void forRows(const at::Tensor& z, F&& launch) {
    constexpr int kVector = 16 / sizeof(T);
    const int64_t Vc = z.size(1);
    const unsigned R = static_cast<unsigned>(z.size(0));
    if (R == 0 || Vc == 0) return;
    const c10::cuda::CUDAGuard guard(z.device());
    const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
    if (Vc % kVector == 0 && reinterpret_cast<std::uintptr_t>(z.const_data_ptr()) % 16 == 0)
      launch(std::integral_constant<int, kVector>{}, R, stream);
    else
      launch(std::integral_constant<int, 1>{}, R, stream);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
};

}  // namespace

std::unique_ptr<LogitsTileKernels> cudaLogitsTileKernels(const LogitsTransform& transform) {
  return std::make_unique<CudaLogitsTileKernels>(transform);
}

}  // namespace alignkit::ops
