// The memory-bound ops around each layer of a training step (bias add, relu, its gradient dy·step(y),
// the bias gradient), which wasm runs at 128-bit width on one thread, and the attacks' clipping, sign
// tests and selections (maximum, minimum, comparisons, select), which wasm runs ~15x slower than its Sub.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "call.h"
#include "ops.h"

namespace ensdef {
namespace {

ElementwiseOp parseOp(const std::string &name) {
#define ENSDEF_MATCH(op) \
  if (name == #op) return ElementwiseOp::op;
  ENSDEF_ELEMENTWISE_OPS(ENSDEF_MATCH)
#undef ENSDEF_MATCH
  throw std::runtime_error("elementwise: unknown op '" + name + "'");
}

// tfjs-cpu's Math.max / Math.min: NaN if either is NaN, and +0 above −0 (equal values: max takes a unless a
// is −0, min takes a unless a is +0). Selections, not branches, so the loops vectorise; lambdas, not
// functions, so that pairWithRows is instantiated for each and inlines it.
constexpr auto maximum = [](float a, float b) { return a > b || a != a || (a == b && !std::signbit(a)) ? a : b; };
constexpr auto minimum = [](float a, float b) { return a < b || a != a || (a == b && std::signbit(a)) ? a : b; };

// out[r, c] = f(a[r, c], b[r]) over rows × cols. The same shape (cols = 1) and one scalar (rows = 1) run as
// one flat loop, so neither degenerates into loops of length 1 nor one thread's worth of work.
template <typename Out, typename F>
void pairWithRows(int64_t rows, int64_t cols, const float *a, const float *b, Out *out, F f) {
  if (cols == 1) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < rows; i++) out[i] = f(a[i], b[i]);
  } else if (rows == 1) {
    const float y = b[0];
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < cols; i++) out[i] = f(a[i], y);
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float y = b[r], *in = a + r * cols;
      Out *o = out + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) o[c] = f(in[c], y);
    }
  }
}

}  // namespace

// elementwise(heap, op, {a, b?, condition?, out}, {rows, cols}, {alpha}); a holds rows·cols float32 values.
// multiply: out = a·b; add: out = a + b (same shape); addRow: out[r, c] = a[r, c] + b[c];
// relu: max(0, a) (NaN stays NaN, −0 becomes +0, like tfjs-cpu); step: a > 0 ? 1 : alpha (NaN stays NaN);
// sumRows: out[c] = Σ_r a[r, c] accumulated in double, row by row in order (deterministic for any thread count);
// maximum, minimum: out[r, c] = max / min(a[r, c], b[r]) (b one value per row: cols = 1 is the same shape,
// rows = 1 a scalar); equal, greater, less: the same pairing, out a bool (one byte, 1 or 0) per value;
// select: out = condition == 1 ? a : b (tfjs-cpu's test), condition one bool per value, all the same shape.
napi_value Elementwise(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call call(env, info, 5);
    call.takeHeap(0);
    const ElementwiseOp op = parseOp(call.text(call.arg(1)));
    napi_value t = call.arg(2), s = call.arg(3);
    const int64_t rows = call.integer(s, "rows"), cols = call.integer(s, "cols"), n = rows * cols;
    const float alpha = static_cast<float>(call.number(call.arg(4), "alpha"));
    const float *x = call.tensor(t, "a", n);
    const bool unary = op == ElementwiseOp::relu || op == ElementwiseOp::step || op == ElementwiseOp::sumRows;
    const bool comparison = op == ElementwiseOp::equal || op == ElementwiseOp::greater || op == ElementwiseOp::less;
    const bool pairsRows = comparison || op == ElementwiseOp::maximum || op == ElementwiseOp::minimum;
    const float *y = unary ? nullptr : call.tensor(t, "b", op == ElementwiseOp::addRow ? cols : pairsRows ? rows : n);
    float *out = comparison ? nullptr : call.tensor(t, "out", op == ElementwiseOp::sumRows ? cols : n);
    uint8_t *flags = comparison ? call.tensor<uint8_t>(t, "out", n) : nullptr;
    switch (op) {
      case ElementwiseOp::multiply:
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; i++) out[i] = x[i] * y[i];
        break;
      case ElementwiseOp::add:
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; i++) out[i] = x[i] + y[i];
        break;
      case ElementwiseOp::addRow:
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
          const float *in = x + r * cols;
          float *o = out + r * cols;
#pragma omp simd
          for (int64_t c = 0; c < cols; c++) o[c] = in[c] + y[c];
        }
        break;
      case ElementwiseOp::relu:
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; i++) out[i] = x[i] > 0.f ? x[i] : (x[i] != x[i] ? x[i] : 0.f);
        break;
      case ElementwiseOp::step:
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; i++) out[i] = x[i] > 0.f ? 1.f : (x[i] != x[i] ? x[i] : alpha);
        break;
      case ElementwiseOp::sumRows: {
        std::vector<double> sums(cols, 0.0);
        for (int64_t r = 0; r < rows; r++) {
          const float *in = x + r * cols;
#pragma omp simd
          for (int64_t c = 0; c < cols; c++) sums[c] += in[c];
        }
        for (int64_t c = 0; c < cols; c++) out[c] = static_cast<float>(sums[c]);
        break;
      }
      case ElementwiseOp::maximum:
        pairWithRows(rows, cols, x, y, out, maximum);
        break;
      case ElementwiseOp::minimum:
        pairWithRows(rows, cols, x, y, out, minimum);
        break;
      case ElementwiseOp::equal:
        pairWithRows(rows, cols, x, y, flags, [](float a, float b) -> uint8_t { return a == b; });
        break;
      case ElementwiseOp::greater:
        pairWithRows(rows, cols, x, y, flags, [](float a, float b) -> uint8_t { return a > b; });
        break;
      case ElementwiseOp::less:
        pairWithRows(rows, cols, x, y, flags, [](float a, float b) -> uint8_t { return a < b; });
        break;
      case ElementwiseOp::select: {
        const uint8_t *condition = call.tensor<uint8_t>(t, "condition", n);
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; i++) {
          // Both loaded before choosing: a load under the condition would keep the loop from vectorising.
          const float chosen = x[i], other = y[i];
          out[i] = condition[i] == 1 ? chosen : other;
        }
        break;
      }
    }
  });
}

// elementwiseOps(): the op names this build knows, in ops.h order.
napi_value ElementwiseOps(napi_env env, napi_callback_info) {
  napi_value list;
  napi_create_array(env, &list);
  uint32_t i = 0;
#define ENSDEF_NAME(op) napi_set_element(env, list, i++, stringValue(env, #op));
  ENSDEF_ELEMENTWISE_OPS(ENSDEF_NAME)
#undef ENSDEF_NAME
  return list;
}

}  // namespace ensdef

namespace ensdef {

// reluBiasGrad(heap, {dy, z, da, db}, {rows, cols, rowsPerChunk})
// The backward of z = relu(conv(x) + bias) up to the convolution, in one pass: da = dy·step(z) (tfjs's relu
// gradient, NaN kept; z > 0 exactly where the pre-activation is) and db[c] = Σ_r da[r, c]. The sum is
// taken in double per fixed chunk of rows (one image), then over chunks in order, so it is the same
// whatever the thread count.
napi_value ReluBiasGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call call(env, info, 3);
    call.takeHeap(0);
    napi_value t = call.arg(1), s = call.arg(2);
    const int64_t rows = call.integer(s, "rows"), cols = call.integer(s, "cols"), chunkRows = call.integer(s, "rowsPerChunk");
    if (chunkRows < 1 || rows % chunkRows != 0) throw std::runtime_error("reluBiasGrad: rowsPerChunk must divide rows");
    const float *dy = call.tensor(t, "dy", rows * cols), *z = call.tensor(t, "z", rows * cols);
    float *da = call.tensor(t, "da", rows * cols), *db = call.tensor(t, "db", cols);
    const int64_t chunks = rows / chunkRows;
    std::vector<double> partials(chunks * cols, 0.0);
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < chunks; k++) {
      double *sums = partials.data() + k * cols;
      for (int64_t r = k * chunkRows; r < (k + 1) * chunkRows; r++) {
        const float *g = dy + r * cols, *a = z + r * cols;
        float *out = da + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) {
          const float step = a[c] > 0.f ? 1.f : (a[c] != a[c] ? a[c] : 0.f);
          out[c] = g[c] * step;
          sums[c] += out[c];
        }
      }
    }
    for (int64_t c = 0; c < cols; c++) {
      double total = 0.0;
      for (int64_t k = 0; k < chunks; k++) total += partials[k * cols + c];
      db[c] = static_cast<float>(total);
    }
  });
}

}  // namespace ensdef
