// A 3×3 'valid' convolution of a one-channel image (MNIST's first layer) with bias, relu and 2×2 max
// pooling, in one pass that never stores the activations: each pooled value's four inputs are computed
// in registers and pooled at once. Beside the pooled value it writes which of the window's four positions
// held the maximum (one byte per pooled value). Only that position passes a gradient, so the backward
// reads the byte instead of recomputing the window, and the filter and input gradients are sparse
// scatters from each window's maximum, not convolutions over the whole activation.
//
// Rules as tfjs-cpu: the window's first strict maximum wins (a NaN never does); relu keeps NaN; relu's
// gradient is dy·step(z). Sums are per image (in float) and then over images in order (in double), so
// results do not depend on the thread count.

#include <emmintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "call.h"

namespace ensdef {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int kTaps = 9;
// The narrowest block: the filter count must be a multiple of it.
constexpr int kMinLanes = 8;
// A filter's nine taps as one row, padded to 16 floats: one AVX-512 vector or two of 8.
constexpr int kTapRow = 16;

#define ENSDEF_INLINE inline __attribute__((always_inline))

struct ConvPoolShape {
  int64_t n, h, w, o, ph, pw;  // input n×h×w×1, filters o, pooled ph×pw

  static ConvPoolShape read(const Call &call, napi_value s) {
    ConvPoolShape shape{call.integer(s, "batch"), call.integer(s, "inHeight"), call.integer(s, "inWidth"), call.integer(s, "outChannels"), 0, 0};
    shape.ph = (shape.h - 2) / 2;
    shape.pw = (shape.w - 2) / 2;
    if (shape.h < 4 || shape.w < 4 || shape.o < 1 || shape.o % kMinLanes != 0)
      throw std::runtime_error("convReluPool: the image must be at least 4×4 and the filters a multiple of " + std::to_string(kMinLanes));
    return shape;
  }
  int64_t inputs() const { return n * h * w; }
  int64_t pooled() const { return n * ph * pw * o; }
  // The maxima's positions, one byte per pooled value, travel in an int32 tensor (tfjs has no int8).
  int64_t positionWords() const { return pooled() / 4; }
};

namespace narrow {
#include "conv-pool-kernels.h"
}  // namespace narrow

namespace wide {
// AVX-512 DQ and BW turn compare masks into vectors; with F alone gcc compares lane by lane.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl")
#include "conv-pool-kernels.h"
#pragma GCC pop_options
}  // namespace wide

// Each kernel twice: 8 lanes, cloned for AVX2 and the x86-64 baseline; 16 lanes for AVX-512, with the
// target of the `wide` inclusion above.
#define ENSDEF_8_LANES __attribute__((target_clones("avx2", "default")))
#define ENSDEF_16_LANES __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))

ENSDEF_8_LANES void forward8(const ConvPoolShape &s, const float *image, const float *filter, const float *bias, float *y, int8_t *positions) { narrow::forwardImage<8>(s, image, filter, bias, y, positions); }
ENSDEF_16_LANES void forward16(const ConvPoolShape &s, const float *image, const float *filter, const float *bias, float *y, int8_t *positions) { wide::forwardImage<16>(s, image, filter, bias, y, positions); }
ENSDEF_8_LANES void filterGradient8(const ConvPoolShape &s, const float *image, const float *y, const int8_t *positions, const float *dy, float *sums) { narrow::filterGradientImage<8>(s, image, y, positions, dy, sums); }
ENSDEF_16_LANES void filterGradient16(const ConvPoolShape &s, const float *image, const float *y, const int8_t *positions, const float *dy, float *sums) { wide::filterGradientImage<16>(s, image, y, positions, dy, sums); }
ENSDEF_8_LANES void inputGradient8(const ConvPoolShape &s, const float *taps, const float *y, const int8_t *positions, const float *dy, float *dx, float *gradient) { narrow::inputGradientImage<8>(s, taps, y, positions, dy, dx, gradient); }
ENSDEF_16_LANES void inputGradient16(const ConvPoolShape &s, const float *taps, const float *y, const int8_t *positions, const float *dy, float *dx, float *gradient) { wide::inputGradientImage<16>(s, taps, y, positions, dy, dx, gradient); }

// 16 lanes where the CPU has AVX-512 and the filters come in sixteens; ENSDEF_NATIVE_LANES=8 forces 8 (tests
// compare the two).
bool sixteenLanes(const ConvPoolShape &s) {
  static const bool available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && !(std::getenv("ENSDEF_NATIVE_LANES") && std::string(std::getenv("ENSDEF_NATIVE_LANES")) == "8");
  return available && s.o % 16 == 0;
}

}  // namespace

// convReluPool(heap, {x, filter, bias, y, positions}, {batch, inHeight, inWidth, outChannels})
napi_value ConvReluPool(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call call(env, info, 3);
    call.takeHeap(0);
    const ConvPoolShape s = ConvPoolShape::read(call, call.arg(2));
    napi_value t = call.arg(1);
    const float *x = call.tensor(t, "x", s.inputs()), *filter = call.tensor(t, "filter", kTaps * s.o), *bias = call.tensor(t, "bias", s.o);
    float *y = call.tensor(t, "y", s.pooled());
    int8_t *positions = reinterpret_cast<int8_t *>(call.tensor<int32_t>(t, "positions", s.positionWords()));
    const int64_t perImage = s.ph * s.pw * s.o;
    const bool wide = sixteenLanes(s);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < s.n; b++) (wide ? forward16 : forward8)(s, x + b * s.h * s.w, filter, bias, y + b * perImage, positions + b * perImage);
  });
}

// convReluPoolGrad(heap, {y, positions, dy, and x, dfilter | filter, dx}, shape): the gradient of the
// filter (from the input) or of the input (from the filter), whichever output is given, from dy, the
// gradient of the pooled output y whose maxima's positions the forward wrote.
napi_value ConvReluPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call call(env, info, 3);
    call.takeHeap(0);
    const ConvPoolShape s = ConvPoolShape::read(call, call.arg(2));
    napi_value t = call.arg(1);
    const float *y = call.tensor(t, "y", s.pooled()), *dy = call.tensor(t, "dy", s.pooled());
    const int8_t *positions = reinterpret_cast<const int8_t *>(call.tensor<int32_t>(t, "positions", s.positionWords()));
    float *dfilter = call.tensor(t, "dfilter", kTaps * s.o, true), *dx = call.tensor(t, "dx", s.inputs(), true);
    if ((dfilter == nullptr) == (dx == nullptr)) throw std::runtime_error("convReluPoolGrad: give exactly one of dfilter and dx");
    const int64_t perImage = s.ph * s.pw * s.o;
    const bool wide = sixteenLanes(s);
    if (dx) {
      const float *filter = call.tensor(t, "filter", kTaps * s.o);
      std::memset(dx, 0, sizeof(float) * s.inputs());
      // The filter transposed to rows of taps: taps[c][t] = filter[t][c].
      std::vector<float> taps(s.o * kTapRow, 0.f);
      for (int64_t c = 0; c < s.o; c++)
        for (int t = 0; t < kTaps; t++) taps[c * kTapRow + t] = filter[t * s.o + c];
#pragma omp parallel
      {
        std::vector<float> gradient(s.o);
#pragma omp for schedule(static)
        for (int64_t b = 0; b < s.n; b++)
          (wide ? inputGradient16 : inputGradient8)(s, taps.data(), y + b * perImage, positions + b * perImage, dy + b * perImage, dx + b * s.h * s.w, gradient.data());
      }
      return;
    }
    const float *x = call.tensor(t, "x", s.inputs());
    // Per image, then over images in order in double: the same sums for any thread count.
    std::vector<float> partials(s.n * kTaps * s.o);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < s.n; b++) (wide ? filterGradient16 : filterGradient8)(s, x + b * s.h * s.w, y + b * perImage, positions + b * perImage, dy + b * perImage, partials.data() + b * kTaps * s.o);
    for (int64_t i = 0; i < kTaps * s.o; i++) {
      double total = 0.0;
      for (int64_t b = 0; b < s.n; b++) total += partials[b * kTaps * s.o + i];
      dfilter[i] = static_cast<float>(total);
    }
  });
}

}  // namespace ensdef
