// Max pooling with tfjs-cpu's rule: each window's maximum is its first strict maximum in row-major
// window order (a NaN never wins; a window of only NaN or −∞ gives −∞ and passes no gradient).

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "call.h"

namespace ensdef {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct PoolShape {
  int64_t n, h, w, c, kh, kw, oh, ow, sh, sw, pt, pl;

  static PoolShape read(const Call &call, napi_value s) {
    return {call.integer(s, "batch"),     call.integer(s, "inHeight"),   call.integer(s, "inWidth"),      call.integer(s, "channels"),
            call.integer(s, "windowHeight"), call.integer(s, "windowWidth"), call.integer(s, "outHeight"),    call.integer(s, "outWidth"),
            call.integer(s, "strideHeight"), call.integer(s, "strideWidth"), call.integer(s, "padTop"),       call.integer(s, "padLeft")};
  }
  int64_t inputs() const { return n * h * w * c; }
  int64_t outputs() const { return n * oh * ow * c; }
  // 2×2 windows with stride 2 inside the input: the paper's networks pool only this way.
  bool tiles2x2() const { return kh == 2 && kw == 2 && sh == 2 && sw == 2 && pt == 0 && pl == 0 && 2 * oh <= h && 2 * ow <= w; }
};

void maxPoolGeneral(const PoolShape &s, const float *x, float *y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < s.n; b++) {
    for (int64_t r = 0; r < s.oh; r++) {
      const int64_t r0 = std::max<int64_t>(r * s.sh - s.pt, 0), r1 = std::min(s.h, r * s.sh - s.pt + s.kh);
      for (int64_t q = 0; q < s.ow; q++) {
        const int64_t c0 = std::max<int64_t>(q * s.sw - s.pl, 0), c1 = std::min(s.w, q * s.sw - s.pl + s.kw);
        float *out = y + ((b * s.oh + r) * s.ow + q) * s.c;
        for (int64_t d = 0; d < s.c; d++) out[d] = kNegInf;
        for (int64_t xr = r0; xr < r1; xr++) {
          for (int64_t xc = c0; xc < c1; xc++) {
            const float *in = x + ((b * s.h + xr) * s.w + xc) * s.c;
            // `in > out`, never std::max: a NaN never becomes the maximum (tfjs-cpu's comparison).
            for (int64_t d = 0; d < s.c; d++) out[d] = in[d] > out[d] ? in[d] : out[d];
          }
        }
      }
    }
  }
}

void maxPool2x2(const PoolShape &s, const float *x, float *y) {
  const int64_t right = s.c, below = s.w * s.c;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < s.n; b++) {
    for (int64_t r = 0; r < s.oh; r++) {
      for (int64_t q = 0; q < s.ow; q++) {
        const float *p = x + ((b * s.h + 2 * r) * s.w + 2 * q) * s.c;
        float *out = y + ((b * s.oh + r) * s.ow + q) * s.c;
#pragma omp simd
        for (int64_t d = 0; d < s.c; d++) {
          float m = kNegInf;
          m = p[d] > m ? p[d] : m;
          m = p[d + right] > m ? p[d + right] : m;
          m = p[d + below] > m ? p[d + below] : m;
          m = p[d + below + right] > m ? p[d + below + right] : m;
          out[d] = m;
        }
      }
    }
  }
}

// Windows that do not overlap (stride ≥ window): each input receives at most one window's gradient,
// so scattering to the first maximum reproduces tfjs-cpu exactly, −0 → +0 included (it sums into +0).
void maxPoolGradGeneral(const PoolShape &s, const float *x, const float *dy, float *dx) {
  std::memset(dx, 0, sizeof(float) * s.inputs());
#pragma omp parallel
  {
    std::vector<float> best(s.c);
    std::vector<int64_t> where(s.c);
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < s.n; b++) {
      for (int64_t r = 0; r < s.oh; r++) {
        const int64_t r0 = std::max<int64_t>(r * s.sh - s.pt, 0), r1 = std::min(s.h, r * s.sh - s.pt + s.kh);
        for (int64_t q = 0; q < s.ow; q++) {
          const int64_t c0 = std::max<int64_t>(q * s.sw - s.pl, 0), c1 = std::min(s.w, q * s.sw - s.pl + s.kw);
          std::fill(best.begin(), best.end(), kNegInf);
          std::fill(where.begin(), where.end(), -1);
          for (int64_t xr = r0; xr < r1; xr++) {
            for (int64_t xc = c0; xc < c1; xc++) {
              const int64_t at = ((b * s.h + xr) * s.w + xc) * s.c;
              for (int64_t d = 0; d < s.c; d++) {
                if (x[at + d] > best[d]) {
                  best[d] = x[at + d];
                  where[d] = at + d;
                }
              }
            }
          }
          const float *g = dy + ((b * s.oh + r) * s.ow + q) * s.c;
          for (int64_t d = 0; d < s.c; d++) {
            if (where[d] >= 0) dx[where[d]] = 0.f + g[d];
          }
        }
      }
    }
  }
}

uint32_t bitsOf(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

float fromBits(uint32_t bits) {
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// The 2×2 case at memory speed: the first of a window's four inputs equal to the forward output y takes
// the gradient. Where equality cannot find tfjs-cpu's choice (y is −∞: cpu passes no gradient; or no
// input equals y, as when y came from a kernel that propagates NaN) the window is scanned exactly. Rows
// and columns no window covers (odd sizes) get 0.
// Each row of windows takes two passes: one compares x with y into bit masks (only loads), one selects
// dy's bits by them (only stores to dx). Selecting by integer masks keeps both passes branch-free and
// vectorised even at the x86-64 baseline, which has no float blend; a branch per value took 11 ms here.
void maxPoolGrad2x2(const PoolShape &s, const float *x, const float *y, const float *dy, float *dx) {
  const int64_t right = s.c, below = s.w * s.c, rowValues = s.ow * s.c;
  if (2 * s.oh != s.h || 2 * s.ow != s.w) std::memset(dx, 0, sizeof(float) * s.inputs());
#pragma omp parallel
  {
    std::vector<uint32_t> masks(4 * rowValues);
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < s.n; b++) {
      for (int64_t r = 0; r < s.oh; r++) {
        const int64_t corner = (b * s.h + 2 * r) * s.w * s.c, o = (b * s.oh + r) * rowValues;
        const float *m = y + o, *g = dy + o;
        uint32_t *m0 = masks.data(), *m1 = m0 + rowValues, *m2 = m1 + rowValues, *m3 = m2 + rowValues;
        uint32_t unmatched = 0;
        for (int64_t q = 0; q < s.ow; q++) {
          const float *p = x + corner + 2 * q * s.c;
          const int64_t at = q * s.c;
#pragma omp simd reduction(| : unmatched)
          for (int64_t d = 0; d < s.c; d++) {
            const float max = m[at + d];
            const uint32_t e0 = -static_cast<uint32_t>(p[d] == max), e1 = -static_cast<uint32_t>(p[d + right] == max);
            const uint32_t e2 = -static_cast<uint32_t>(p[d + below] == max), e3 = -static_cast<uint32_t>(p[d + below + right] == max);
            const uint32_t live = -static_cast<uint32_t>(max != kNegInf);
            m0[at + d] = e0 & live;
            m1[at + d] = e1 & ~e0 & live;
            m2[at + d] = e2 & ~(e0 | e1) & live;
            m3[at + d] = e3 & ~(e0 | e1 | e2) & live;
            unmatched |= ~(e0 | e1 | e2 | e3);
          }
        }
        if (unmatched) {
          for (int64_t q = 0; q < s.ow; q++) {
            const float *p = x + corner + 2 * q * s.c;
            for (int64_t d = 0; d < s.c; d++) {
              const int64_t at = q * s.c + d;
              if (m[at] == p[d] || m[at] == p[d + right] || m[at] == p[d + below] || m[at] == p[d + below + right]) continue;
              const float window[4] = {p[d], p[d + right], p[d + below], p[d + below + right]};
              float best = kNegInf;
              int first = -1;
              for (int i = 0; i < 4; i++)
                if (window[i] > best) best = window[i], first = i;
              m0[at] = first == 0 ? ~0u : 0u;
              m1[at] = first == 1 ? ~0u : 0u;
              m2[at] = first == 2 ? ~0u : 0u;
              m3[at] = first == 3 ? ~0u : 0u;
            }
          }
        }
        for (int64_t q = 0; q < s.ow; q++) {
          float *out = dx + corner + 2 * q * s.c;
          const int64_t at = q * s.c;
#pragma omp simd
          for (int64_t d = 0; d < s.c; d++) {
            const uint32_t grad = bitsOf(g[at + d] + 0.f);  // + 0: tfjs-cpu sums into +0, so −0 arrives as +0
            out[d] = fromBits(grad & m0[at + d]);
            out[d + right] = fromBits(grad & m1[at + d]);
            out[d + below] = fromBits(grad & m2[at + d]);
            out[d + below + right] = fromBits(grad & m3[at + d]);
          }
        }
      }
    }
  }
}

}  // namespace

// maxPool(heap, {x, y}, PoolShape)
napi_value MaxPool(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call call(env, info, 3);
    call.takeHeap(0);
    PoolShape s = PoolShape::read(call, call.arg(2));
    const float *x = call.tensor(call.arg(1), "x", s.inputs());
    float *y = call.tensor(call.arg(1), "y", s.outputs());
    s.tiles2x2() ? maxPool2x2(s, x, y) : maxPoolGeneral(s, x, y);
  });
}

// maxPoolGrad(heap, {x, y, dy, dx}, PoolShape): y = MaxPool(x), the forward output; windows must not overlap.
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call call(env, info, 3);
    call.takeHeap(0);
    PoolShape s = PoolShape::read(call, call.arg(2));
    if (s.sh < s.kh || s.sw < s.kw) throw std::runtime_error("maxPoolGrad: overlapping windows are not supported");
    napi_value t = call.arg(1);
    const float *x = call.tensor(t, "x", s.inputs()), *y = call.tensor(t, "y", s.outputs()), *dy = call.tensor(t, "dy", s.outputs());
    float *dx = call.tensor(t, "dx", s.inputs());
    s.tiles2x2() ? maxPoolGrad2x2(s, x, y, dy, dx) : maxPoolGradGeneral(s, x, dy, dx);
  });
}

}  // namespace ensdef
