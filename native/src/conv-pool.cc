// A 3×3 'valid' convolution of a one-channel image (MNIST's first layer) with bias, relu and 2×2 max
// pooling, in one pass that never stores the activations: each pooled value's four inputs are computed
// in registers and pooled at once. Its backward recomputes them (a one-channel convolution costs about as
// much as reading its stored output back) and, since only each window's first maximum passes a gradient,
// touches only those positions: the filter and input gradients are sparse scatters, not convolutions over
// the whole activation.
//
// Rules as tfjs-cpu: the window's first strict maximum wins (a NaN never does); relu keeps NaN; relu's
// gradient is dy·step(z). Sums are per image (in float) and then over images in order (in double), so
// results do not depend on the thread count.

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "call.h"

namespace ensdef {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int kTaps = 9;
// Filters are processed in blocks of one 8-float vector, so a block's nine weights stay in registers.
constexpr int kLanes = 8;
typedef float Floats __attribute__((vector_size(kLanes * sizeof(float))));
typedef int32_t Ints __attribute__((vector_size(kLanes * sizeof(int32_t))));

struct ConvPoolShape {
  int64_t n, h, w, o, ph, pw;  // input n×h×w×1, filters o, pooled ph×pw

  static ConvPoolShape read(const Call &call, napi_value s) {
    ConvPoolShape shape{call.integer(s, "batch"), call.integer(s, "inHeight"), call.integer(s, "inWidth"), call.integer(s, "outChannels"), 0, 0};
    shape.ph = (shape.h - 2) / 2;
    shape.pw = (shape.w - 2) / 2;
    if (shape.h < 4 || shape.w < 4 || shape.o < 1 || shape.o % kLanes != 0)
      throw std::runtime_error("convReluPool: the image must be at least 4×4 and the filters a multiple of " + std::to_string(kLanes));
    return shape;
  }
  int64_t inputs() const { return n * h * w; }
  int64_t pooled() const { return n * ph * pw * o; }
};

Floats load(const float *p) {
  Floats v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store(float *p, Floats v) { std::memcpy(p, &v, sizeof v); }

// One filter block's weights and bias.
struct Block {
  Floats weights[kTaps];
  Floats bias;
  Block(const float *filter, const float *biasValues, int64_t o, int64_t first) {
    for (int t = 0; t < kTaps; t++) weights[t] = load(filter + t * o + first);
    bias = load(biasValues + first);
  }
};

// A window's four relu activations for one filter block (positions in row-major order), its maximum by
// the first-strict rule and the index of that maximum (−1 where every value is NaN).
struct Window {
  Floats z[4];
  Floats max;
  Ints first;
};

// Cloned for AVX2 and the x86-64 baseline (picked at load time): the work is compute-bound, and without
// fused multiply-add (-ffp-contract=off) every clone computes the same sums in the same order per lane.
#define ENSDEF_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))

inline Window window(const Block &k, const float *image, int64_t w, int64_t r, int64_t q) {
  Window out;
  out.max = Floats{} + kNegInf;
  out.first = Ints{} - 1;
  for (int position = 0; position < 4; position++) {
    const float *corner = image + (2 * r + position / 2) * w + 2 * q + position % 2;
    Floats a = Floats{};
    for (int t = 0; t < kTaps; t++) a += corner[(t / 3) * w + t % 3] * k.weights[t];
    a += k.bias;
    a = a > 0.f ? a : (a != a ? a : Floats{});  // relu, NaN kept
    out.z[position] = a;
    const Ints above = a > out.max;
    out.first = above ? Ints{} + position : out.first;
    out.max = above ? a : out.max;
  }
  return out;
}

// The gradient at the window's maximum: dy (−0 as +0, as MaxPoolGrad sums into +0) times relu's step.
inline Floats maximumGradient(const Window &win, const float *dy) {
  const Floats g = load(dy) + 0.f;
  const Floats step = win.max > 0.f ? Floats{} + 1.f : (win.max != win.max ? win.max : Floats{});
  return win.first < 0 ? Floats{} : g * step;
}

ENSDEF_VECTOR_CLONES void forwardImage(const ConvPoolShape &s, const float *image, const float *filter, const float *bias, float *y) {
  for (int64_t c = 0; c < s.o; c += kLanes) {
    const Block k(filter, bias, s.o, c);
    for (int64_t r = 0; r < s.ph; r++)
      for (int64_t q = 0; q < s.pw; q++) store(y + (r * s.pw + q) * s.o + c, window(k, image, s.w, r, q).max);
  }
}

// The filter gradient's sums over one image, per tap and filter.
ENSDEF_VECTOR_CLONES void filterGradientImage(const ConvPoolShape &s, const float *image, const float *filter, const float *bias, const float *dy, float *sums) {
  for (int64_t c = 0; c < s.o; c += kLanes) {
    const Block k(filter, bias, s.o, c);
    Floats acc[kTaps] = {};
    for (int64_t r = 0; r < s.ph; r++) {
      for (int64_t q = 0; q < s.pw; q++) {
        const Window win = window(k, image, s.w, r, q);
        const Floats d = maximumGradient(win, dy + (r * s.pw + q) * s.o + c);
        for (int position = 0; position < 4; position++) {
          const Floats selected = win.first == position ? d : Floats{};
          const float *corner = image + (2 * r + position / 2) * s.w + 2 * q + position % 2;
          for (int t = 0; t < kTaps; t++) acc[t] += selected * corner[(t / 3) * s.w + t % 3];
        }
      }
    }
    for (int t = 0; t < kTaps; t++) store(sums + t * s.o + c, acc[t]);
  }
}

// The input gradient of one image. Per window, each position's gradient per filter (d where the filter's
// maximum is at that position, else 0) is gathered first; then the nine taps of each position take
// Σ_filters gradient·weight as broadcast products against the filters' taps laid out as rows (`taps`,
// [o][16]), so that no sum runs across vector lanes.
ENSDEF_VECTOR_CLONES void inputGradientImage(const ConvPoolShape &s, const float *image, const float *filter, const float *bias, const float *taps,
                                             const float *dy, float *dx, float *selected) {
  for (int64_t r = 0; r < s.ph; r++) {
    for (int64_t q = 0; q < s.pw; q++) {
      for (int64_t c = 0; c < s.o; c += kLanes) {
        const Block k(filter, bias, s.o, c);
        const Window win = window(k, image, s.w, r, q);
        const Floats d = maximumGradient(win, dy + (r * s.pw + q) * s.o + c);
        for (int position = 0; position < 4; position++) store(selected + position * s.o + c, win.first == position ? d : Floats{});
      }
      for (int position = 0; position < 4; position++) {
        Floats low = Floats{}, high = Floats{};
        const float *g = selected + position * s.o;
        for (int64_t c = 0; c < s.o; c++) {
          low += g[c] * load(taps + c * 2 * kLanes);
          high += g[c] * load(taps + c * 2 * kLanes + kLanes);
        }
        float sums[2 * kLanes];
        store(sums, low);
        store(sums + kLanes, high);
        float *corner = dx + (2 * r + position / 2) * s.w + 2 * q + position % 2;
        for (int t = 0; t < kTaps; t++) corner[(t / 3) * s.w + t % 3] += sums[t];
      }
    }
  }
}

}  // namespace

// convReluPool(heap, {x, filter, bias, y}, {batch, inHeight, inWidth, outChannels})
napi_value ConvReluPool(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call call(env, info, 3);
    call.takeHeap(0);
    const ConvPoolShape s = ConvPoolShape::read(call, call.arg(2));
    napi_value t = call.arg(1);
    const float *x = call.tensor(t, "x", s.inputs()), *filter = call.tensor(t, "filter", kTaps * s.o), *bias = call.tensor(t, "bias", s.o);
    float *y = call.tensor(t, "y", s.pooled());
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < s.n; b++) forwardImage(s, x + b * s.h * s.w, filter, bias, y + b * s.ph * s.pw * s.o);
  });
}

// convReluPoolGrad(heap, {x, filter, bias, dy, dfilter | dx}, shape): the gradient of the filter or of the
// input (whichever tensor is given) from dy, the gradient of the pooled output.
napi_value ConvReluPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call call(env, info, 3);
    call.takeHeap(0);
    const ConvPoolShape s = ConvPoolShape::read(call, call.arg(2));
    napi_value t = call.arg(1);
    const float *x = call.tensor(t, "x", s.inputs()), *filter = call.tensor(t, "filter", kTaps * s.o), *bias = call.tensor(t, "bias", s.o);
    const float *dy = call.tensor(t, "dy", s.pooled());
    float *dfilter = call.tensor(t, "dfilter", kTaps * s.o, true), *dx = call.tensor(t, "dx", s.inputs(), true);
    if ((dfilter == nullptr) == (dx == nullptr)) throw std::runtime_error("convReluPoolGrad: give exactly one of dfilter and dx");
    if (dx) {
      std::memset(dx, 0, sizeof(float) * s.inputs());
      // The filter transposed to rows of taps, padded to two vectors: taps[c][t] = filter[t][c].
      std::vector<float> taps(s.o * 2 * kLanes, 0.f);
      for (int64_t c = 0; c < s.o; c++)
        for (int t = 0; t < kTaps; t++) taps[c * 2 * kLanes + t] = filter[t * s.o + c];
#pragma omp parallel
      {
        std::vector<float> selected(4 * s.o);
#pragma omp for schedule(static)
        for (int64_t b = 0; b < s.n; b++)
          inputGradientImage(s, x + b * s.h * s.w, filter, bias, taps.data(), dy + b * s.ph * s.pw * s.o, dx + b * s.h * s.w, selected.data());
      }
      return;
    }
    // Per image, then over images in order in double: the same sums for any thread count.
    std::vector<float> partials(s.n * kTaps * s.o);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < s.n; b++) filterGradientImage(s, x + b * s.h * s.w, filter, bias, dy + b * s.ph * s.pw * s.o, partials.data() + b * kTaps * s.o);
    for (int64_t i = 0; i < kTaps * s.o; i++) {
      double total = 0.0;
      for (int64_t b = 0; b < s.n; b++) total += partials[b * kTaps * s.o + i];
      dfilter[i] = static_cast<float>(total);
    }
  });
}

}  // namespace ensdef
