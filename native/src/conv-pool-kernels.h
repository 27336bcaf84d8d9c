// The conv-pool kernels' bodies as templates over the vector width L, without a target: conv-pool.cc
// includes this file twice, once for the baseline and AVX2 clones and once under an AVX-512 target, so that
// every helper is compiled for the ISA that runs it (gcc lowers a function's vector operations for its own
// target before inlining it, and a 16-float compare lowered for the baseline runs lane by lane).
// No include guard: it is meant to be included more than once, each time inside its own namespace.

// A block of L filters: its float, int32 and byte vectors.
template <int L>
struct Lanes {
  typedef float Floats __attribute__((vector_size(L * sizeof(float))));
  typedef int32_t Ints __attribute__((vector_size(L * sizeof(int32_t))));
  typedef int8_t Bytes __attribute__((vector_size(L)));
};

template <int L>
ENSDEF_INLINE typename Lanes<L>::Floats load(const float *p) {
  typename Lanes<L>::Floats v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <int L>
ENSDEF_INLINE void store(float *p, typename Lanes<L>::Floats v) { std::memcpy(p, &v, sizeof v); }

// A block's maxima positions as bytes: 0–3, or −1 where every value of the window is NaN.
template <int L>
ENSDEF_INLINE void storePositions(int8_t *p, typename Lanes<L>::Ints first) {
  const auto bytes = __builtin_convertvector(first, typename Lanes<L>::Bytes);
  std::memcpy(p, &bytes, sizeof bytes);
}

template <int L>
ENSDEF_INLINE typename Lanes<L>::Ints loadPositions(const int8_t *p) {
  typename Lanes<L>::Bytes bytes;
  std::memcpy(&bytes, p, sizeof bytes);
  return __builtin_convertvector(bytes, typename Lanes<L>::Ints);
}

// One filter block's weights and bias.
template <int L>
struct Block {
  typename Lanes<L>::Floats weights[kTaps];
  typename Lanes<L>::Floats bias;
  ENSDEF_INLINE Block(const float *filter, const float *biasValues, int64_t o, int64_t first) {
    for (int t = 0; t < kTaps; t++) weights[t] = load<L>(filter + t * o + first);
    bias = load<L>(biasValues + first);
  }
};

// A window's maximum relu activation for one filter block, by the first-strict rule over its positions
// in row-major order, and the index of that maximum (−1 where every value is NaN).
template <int L>
struct Window {
  typename Lanes<L>::Floats max;
  typename Lanes<L>::Ints first;
};

template <int L>
ENSDEF_INLINE Window<L> window(const Block<L> &k, const float *image, int64_t w, int64_t r, int64_t q) {
  using Floats = typename Lanes<L>::Floats;
  using Ints = typename Lanes<L>::Ints;
  // The four positions' sums run side by side, each in tap order, so that no addition waits on the last.
  const float *patch = image + 2 * r * w + 2 * q;
  Floats a[4] = {};
#pragma GCC unroll 9
  for (int t = 0; t < kTaps; t++)
#pragma GCC unroll 4
    for (int position = 0; position < 4; position++) a[position] += patch[(position / 2 + t / 3) * w + position % 2 + t % 3] * k.weights[t];
  Window<L> out;
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
template <int L>
ENSDEF_INLINE typename Lanes<L>::Floats maximumGradient(const float *y, typename Lanes<L>::Ints first, const float *dy) {
  using Floats = typename Lanes<L>::Floats;
  const Floats max = load<L>(y);
  const Floats g = load<L>(dy) + 0.f;
  const Floats step = max > 0.f ? Floats{} + 1.f : (max != max ? max : Floats{});
  return first < 0 ? Floats{} : g * step;
}

template <int L>
ENSDEF_INLINE void forwardImage(const ConvPoolShape &s, const float *image, const float *filter, const float *bias, float *y, int8_t *positions) {
  for (int64_t c = 0; c < s.o; c += L) {
    const Block<L> k(filter, bias, s.o, c);
    for (int64_t r = 0; r < s.ph; r++) {
      for (int64_t q = 0; q < s.pw; q++) {
        const Window<L> win = window<L>(k, image, s.w, r, q);
        const int64_t at = (r * s.pw + q) * s.o + c;
        store<L>(y + at, win.max);
        storePositions<L>(positions + at, win.first);
      }
    }
  }
}

// The filter gradient's sums over one image, per tap and filter.
template <int L>
ENSDEF_INLINE void filterGradientImage(const ConvPoolShape &s, const float *image, const float *y, const int8_t *positions, const float *dy, float *sums) {
  using Floats = typename Lanes<L>::Floats;
  for (int64_t c = 0; c < s.o; c += L) {
    Floats acc[kTaps] = {};
    for (int64_t r = 0; r < s.ph; r++) {
      for (int64_t q = 0; q < s.pw; q++) {
        const int64_t at = (r * s.pw + q) * s.o + c;
        const auto first = loadPositions<L>(positions + at);
        const Floats d = maximumGradient<L>(y + at, first, dy + at);
        for (int position = 0; position < 4; position++) {
          const Floats selected = first == position ? d : Floats{};
          const float *corner = image + (2 * r + position / 2) * s.w + 2 * q + position % 2;
          for (int t = 0; t < kTaps; t++) acc[t] += selected * corner[(t / 3) * s.w + t % 3];
        }
      }
    }
    for (int t = 0; t < kTaps; t++) store<L>(sums + t * s.o + c, acc[t]);
  }
}

// Which of `count` (a multiple of 8) bytes equal `value`, as bits (SSE2, in every clone).
ENSDEF_INLINE uint64_t bytesEqual(const int8_t *bytes, int64_t count, int value) {
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
// [o][kTapRow], so that no sum runs across vector lanes); then the position's nine sums go to its taps'
// pixels. Filters are added in order, so the sums are those of the dense product with the other
// positions' zeros, without its four times the work.
template <int L>
ENSDEF_INLINE void inputGradientImage(const ConvPoolShape &s, const float *taps, const float *y, const int8_t *positions, const float *dy, float *dx, float *gradient) {
  using Floats = typename Lanes<L>::Floats;
  constexpr int kParts = kTapRow / L;
  for (int64_t r = 0; r < s.ph; r++) {
    for (int64_t q = 0; q < s.pw; q++) {
      const int64_t at = (r * s.pw + q) * s.o;
      for (int64_t c = 0; c < s.o; c += L) store<L>(gradient + c, maximumGradient<L>(y + at + c, loadPositions<L>(positions + at + c), dy + at + c));
      for (int position = 0; position < 4; position++) {
        Floats row[kParts] = {};
        for (int64_t first = 0; first < s.o; first += 64) {
          for (uint64_t bits = bytesEqual(positions + at + first, std::min<int64_t>(64, s.o - first), position); bits != 0; bits &= bits - 1) {
            const int64_t c = first + __builtin_ctzll(bits);
            for (int part = 0; part < kParts; part++) row[part] += gradient[c] * load<L>(taps + c * kTapRow + part * L);
          }
        }
        float sums[kTapRow];
        for (int part = 0; part < kParts; part++) store<L>(sums + part * L, row[part]);
        float *corner = dx + (2 * r + position / 2) * s.w + 2 * q + position % 2;
        for (int t = 0; t < kTaps; t++) corner[(t / 3) * s.w + t % 3] += sums[t];
      }
    }
  }
}

