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
  // The maxima's positions, one byte per pooled value, travel in an int32 tensor (tfjs has no int8).
  int64_t positionWords() const { return pooled() / 4; }
};

Floats load(const float *p) {
  Floats v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store(float *p, Floats v) { std::memcpy(p, &v, sizeof v); }

typedef int8_t Bytes __attribute__((vector_size(kLanes)));

// A block's maxima positions as bytes: 0–3, or −1 where every value of the window is NaN.
inline void storePositions(int8_t *p, Ints first) {
  const Bytes bytes = __builtin_convertvector(first, Bytes);
  std::memcpy(p, &bytes, sizeof bytes);
}

inline Ints loadPositions(const int8_t *p) {
  Bytes bytes;
  std::memcpy(&bytes, p, sizeof bytes);
  return __builtin_convertvector(bytes, Ints);
}

// One filter block's weights and bias.
struct Block {
  Floats weights[kTaps];
  Floats bias;
  Block(const float *filter, const float *biasValues, int64_t o, int64_t first) {
    for (int t = 0; t < kTaps; t++) weights[t] = load(filter + t * o + first);
    bias = load(biasValues + first);
  }
};

// A window's maximum relu activation for one filter block, by the first-strict rule over its positions
// in row-major order, and the index of that maximum (−1 where every value is NaN).
struct Window {
  Floats max;
  Ints first;
};

// Cloned for AVX2 and the x86-64 baseline (picked at load time): the work is compute-bound, and without
// fused multiply-add (-ffp-contract=off) every clone computes the same sums in the same order per lane.
#define ENSDEF_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))

inline Window window(const Block &k, const float *image, int64_t w, int64_t r, int64_t q) {
  // The four positions' sums run side by side, each in tap order, so that no addition waits on the last.
  const float *patch = image + 2 * r * w + 2 * q;
  Floats a[4] = {};
#pragma GCC unroll 9
  for (int t = 0; t < kTaps; t++)
#pragma GCC unroll 4
    for (int position = 0; position < 4; position++) a[position] += patch[(position / 2 + t / 3) * w + position % 2 + t % 3] * k.weights[t];
  Window out;
  out.max = Floats{} + kNegInf;
  out.first = Ints{} - 1;
#pragma GCC unroll 4
  for (int position = 0; position < 4; position++) {
    Floats z = a[position] + k.bias;
    z = z > 0.f ? z : (z != z ? z : Floats{});  // relu, NaN kept
    const Ints above = z > out.max;
    out.first = above ? Ints{} + position : out.first;
    out.max = above ? z : out.max;
  }
  return out;
}

// The gradient at a window's maximum, from the pooled value and its position: dy (−0 as +0, as
// MaxPoolGrad sums into +0) times relu's step.
inline Floats maximumGradient(const float *y, Ints first, const float *dy) {
  const Floats max = load(y);
  const Floats g = load(dy) + 0.f;
  const Floats step = max > 0.f ? Floats{} + 1.f : (max != max ? max : Floats{});
  return first < 0 ? Floats{} : g * step;
}

ENSDEF_VECTOR_CLONES void forwardImage(const ConvPoolShape &s, const float *image, const float *filter, const float *bias, float *y, int8_t *positions) {
  for (int64_t c = 0; c < s.o; c += kLanes) {
    const Block k(filter, bias, s.o, c);
    for (int64_t r = 0; r < s.ph; r++) {
      for (int64_t q = 0; q < s.pw; q++) {
        const Window win = window(k, image, s.w, r, q);
        const int64_t at = (r * s.pw + q) * s.o + c;
        store(y + at, win.max);
        storePositions(positions + at, win.first);
      }
    }
  }
}

// The filter gradient's sums over one image, per tap and filter.
ENSDEF_VECTOR_CLONES void filterGradientImage(const ConvPoolShape &s, const float *image, const float *y, const int8_t *positions, const float *dy, float *sums) {
  for (int64_t c = 0; c < s.o; c += kLanes) {
    Floats acc[kTaps] = {};
    for (int64_t r = 0; r < s.ph; r++) {
      for (int64_t q = 0; q < s.pw; q++) {
        const int64_t at = (r * s.pw + q) * s.o + c;
        const Ints first = loadPositions(positions + at);
        const Floats d = maximumGradient(y + at, first, dy + at);
        for (int position = 0; position < 4; position++) {
          const Floats selected = first == position ? d : Floats{};
          const float *corner = image + (2 * r + position / 2) * s.w + 2 * q + position % 2;
          for (int t = 0; t < kTaps; t++) acc[t] += selected * corner[(t / 3) * s.w + t % 3];
        }
      }
    }
    for (int t = 0; t < kTaps; t++) store(sums + t * s.o + c, acc[t]);
  }
}

// Which of `count` (a multiple of 8) bytes equal `value`, as bits (SSE2, in every clone).
inline uint64_t bytesEqual(const int8_t *bytes, int64_t count, int value) {
  const __m128i wanted = _mm_set1_epi8(static_cast<char>(value));
  uint64_t bits = 0;
  int64_t i = 0;
  for (; i + 16 <= count; i += 16)
    bits |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i *>(bytes + i)), wanted)))) << i;
  if (i < count)
    bits |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(bytes + i)), wanted))) & 0xff) << i;
  return bits;
}

// The input gradient of one image. Per window and position, the filters whose maximum lies there (found
// from the stored positions as bits) add their gradient times their taps, laid out as rows (`taps`,
// [o][16], so that no sum runs across vector lanes); then the position's nine sums go to its taps'
// pixels. Filters are added in order, so the sums are those of the dense product with the other
// positions' zeros, without its four times the work.
ENSDEF_VECTOR_CLONES void inputGradientImage(const ConvPoolShape &s, const float *taps, const float *y, const int8_t *positions, const float *dy, float *dx, float *gradient) {
  for (int64_t r = 0; r < s.ph; r++) {
    for (int64_t q = 0; q < s.pw; q++) {
      const int64_t at = (r * s.pw + q) * s.o;
      for (int64_t c = 0; c < s.o; c += kLanes) store(gradient + c, maximumGradient(y + at + c, loadPositions(positions + at + c), dy + at + c));
      for (int position = 0; position < 4; position++) {
        Floats low = Floats{}, high = Floats{};
        for (int64_t first = 0; first < s.o; first += 64) {
          for (uint64_t bits = bytesEqual(positions + at + first, std::min<int64_t>(64, s.o - first), position); bits != 0; bits &= bits - 1) {
            const int64_t c = first + __builtin_ctzll(bits);
            low += gradient[c] * load(taps + c * 2 * kLanes);
            high += gradient[c] * load(taps + c * 2 * kLanes + kLanes);
          }
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
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < s.n; b++) forwardImage(s, x + b * s.h * s.w, filter, bias, y + b * perImage, positions + b * perImage);
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
    if (dx) {
      const float *filter = call.tensor(t, "filter", kTaps * s.o);
      std::memset(dx, 0, sizeof(float) * s.inputs());
      // The filter transposed to rows of taps, padded to two vectors: taps[c][t] = filter[t][c].
      std::vector<float> taps(s.o * 2 * kLanes, 0.f);
      for (int64_t c = 0; c < s.o; c++)
        for (int t = 0; t < kTaps; t++) taps[c * 2 * kLanes + t] = filter[t * s.o + c];
#pragma omp parallel
      {
        std::vector<float> gradient(s.o);
#pragma omp for schedule(static)
        for (int64_t b = 0; b < s.n; b++)
          inputGradientImage(s, taps.data(), y + b * perImage, positions + b * perImage, dy + b * perImage, dx + b * s.h * s.w, gradient.data());
      }
      return;
    }
    const float *x = call.tensor(t, "x", s.inputs());
    // Per image, then over images in order in double: the same sums for any thread count.
    std::vector<float> partials(s.n * kTaps * s.o);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < s.n; b++) filterGradientImage(s, x + b * s.h * s.w, y + b * perImage, positions + b * perImage, dy + b * perImage, partials.data() + b * kTaps * s.o);
    for (int64_t i = 0; i < kTaps * s.o; i++) {
      double total = 0.0;
      for (int64_t b = 0; b < s.n; b++) total += partials[b * kTaps * s.o + i];
      dfilter[i] = static_cast<float>(total);
    }
  });
}

}  // namespace ensdef
