// ensdef's native CPU kernels: convolutions and matmuls on oneDNN, max pooling in plain C++.
//
// Every kernel works in place on memory the caller owns: the first argument is an ArrayBuffer (the
// tfjs-wasm heap, WebAssembly.Memory.buffer) and the tensors are byte offsets into it. No tensor is
// copied in or out. The caller passes the buffer on every call because the wasm heap's ArrayBuffer is
// replaced whenever the memory grows.
//
// Primitives are cached by shape (creating one costs far more than running it for the paper's
// layers); the cache owns every native allocation this addon makes (blocked weight buffers), and
// clearCache() frees them all.

#include <node_api.h>
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::engine &engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream &stream() {
  static dnnl::stream s(engine());
  return s;
}

// Whether convolutions let oneDNN choose the weights' layout (blocked, reordered per call) or use
// tfjs's HWIO as is. Blocked weights let oneDNN run its direct AVX-512 convolutions instead of gemm.
bool g_blockedWeights = true;

struct ConvShape {
  int64_t n, h, w, c, kh, kw, o, oh, ow, sh, sw, pt, pl, pb, pr;
  std::string key(const char *kind, int extra) const {
    std::string k(kind);
    for (int64_t v : {n, h, w, c, kh, kw, o, oh, ow, sh, sw, pt, pl, pb, pr}) k += ',' + std::to_string(v);
    return k + ',' + std::to_string(extra) + (g_blockedWeights ? ",b" : ",u");
  }
  memory::desc src() const { return {{n, c, h, w}, dt::f32, tag::nhwc}; }
  memory::desc dst() const { return {{n, o, oh, ow}, dt::f32, tag::nhwc}; }
  memory::desc userWeights() const { return {{o, c, kh, kw}, dt::f32, tag::hwio}; }
  memory::desc anyWeights() const { return {{o, c, kh, kw}, dt::f32, g_blockedWeights ? tag::any : tag::hwio}; }
  memory::desc bias() const { return {{o}, dt::f32, tag::x}; }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
};

dnnl::convolution_forward::primitive_desc forwardPd(const ConvShape &s, bool bias, bool relu) {
  dnnl::convolution_forward::desc d =
      bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, s.src(),
                                             s.anyWeights(), s.bias(), s.dst(), s.strides(), s.padL(), s.padR())
           : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, s.src(),
                                             s.anyWeights(), s.dst(), s.strides(), s.padL(), s.padR());
  dnnl::primitive_attr attr;
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  return {d, attr, engine()};
}

// A weights reorder and the buffer it fills, present when the primitive wants another layout than HWIO.
struct WeightsLayout {
  std::unique_ptr<dnnl::reorder> reorder;
  std::unique_ptr<memory> blocked;
  void prepare(const memory::desc &wanted, const memory::desc &user, bool toUser) {
    if (wanted == user) return;
    blocked = std::make_unique<memory>(wanted, engine());
    reorder = toUser ? std::make_unique<dnnl::reorder>(*blocked, memory(user, engine(), nullptr))
                     : std::make_unique<dnnl::reorder>(memory(user, engine(), nullptr), *blocked);
  }
  size_t bytes() const { return blocked ? blocked->get_desc().get_size() : 0; }
};

struct CachedPrimitive {
  std::unique_ptr<dnnl::primitive> prim;
  WeightsLayout weights;
  memory::desc weightsDesc;
};

std::unordered_map<std::string, std::unique_ptr<CachedPrimitive>> g_cache;

CachedPrimitive &convForward(const ConvShape &s, bool bias, bool relu) {
  std::string key = s.key("fwd", (bias ? 1 : 0) | (relu ? 2 : 0));
  auto found = g_cache.find(key);
  if (found != g_cache.end()) return *found->second;
  auto pd = forwardPd(s, bias, relu);
  auto entry = std::make_unique<CachedPrimitive>();
  entry->prim = std::make_unique<dnnl::convolution_forward>(pd);
  entry->weightsDesc = pd.weights_desc();
  entry->weights.prepare(pd.weights_desc(), s.userWeights(), false);
  return *(g_cache[key] = std::move(entry));
}

CachedPrimitive &convBackwardData(const ConvShape &s) {
  std::string key = s.key("bwd_data", 0);
  auto found = g_cache.find(key);
  if (found != g_cache.end()) return *found->second;
  auto hint = forwardPd(s, false, false);
  dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, s.src(), s.anyWeights(), s.dst(), s.strides(),
                                          s.padL(), s.padR());
  dnnl::convolution_backward_data::primitive_desc pd(d, engine(), hint);
  auto entry = std::make_unique<CachedPrimitive>();
  entry->prim = std::make_unique<dnnl::convolution_backward_data>(pd);
  entry->weightsDesc = pd.weights_desc();
  entry->weights.prepare(pd.weights_desc(), s.userWeights(), false);
  return *(g_cache[key] = std::move(entry));
}

CachedPrimitive &convBackwardWeights(const ConvShape &s) {
  std::string key = s.key("bwd_weights", 0);
  auto found = g_cache.find(key);
  if (found != g_cache.end()) return *found->second;
  auto hint = forwardPd(s, false, false);
  dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, s.src(), s.anyWeights(), s.dst(), s.strides(),
                                             s.padL(), s.padR());
  dnnl::convolution_backward_weights::primitive_desc pd(d, engine(), hint);
  auto entry = std::make_unique<CachedPrimitive>();
  entry->prim = std::make_unique<dnnl::convolution_backward_weights>(pd);
  entry->weightsDesc = pd.diff_weights_desc();
  entry->weights.prepare(pd.diff_weights_desc(), s.userWeights(), true);
  return *(g_cache[key] = std::move(entry));
}

// ---- max pooling with tfjs-cpu's rule: the first strict maximum in row-major window order wins ----

struct PoolShape {
  int64_t n, h, w, c, kh, kw, oh, ow, sh, sw, pt, pl;
};

void maxPoolForward(const PoolShape &s, const float *x, float *y) {
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < s.n; b++) {
    for (int64_t r = 0; r < s.oh; r++) {
      const int64_t r0 = std::max<int64_t>(r * s.sh - s.pt, 0), r1 = std::min(s.h, r * s.sh - s.pt + s.kh);
      for (int64_t q = 0; q < s.ow; q++) {
        const int64_t c0 = std::max<int64_t>(q * s.sw - s.pl, 0), c1 = std::min(s.w, q * s.sw - s.pl + s.kw);
        float *out = y + ((b * s.oh + r) * s.ow + q) * s.c;
        for (int64_t d = 0; d < s.c; d++) out[d] = -std::numeric_limits<float>::infinity();
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

// Windows that do not overlap (stride ≥ window): each input receives at most one window's gradient,
// so scattering to the first maximum reproduces tfjs-cpu exactly, −0 → +0 included (it sums into +0).
void maxPoolBackward(const PoolShape &s, const float *x, const float *dy, float *dx) {
  std::memset(dx, 0, sizeof(float) * s.n * s.h * s.w * s.c);
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < s.n; b++) {
    for (int64_t r = 0; r < s.oh; r++) {
      const int64_t r0 = std::max<int64_t>(r * s.sh - s.pt, 0), r1 = std::min(s.h, r * s.sh - s.pt + s.kh);
      std::vector<float> best(s.c);
      std::vector<int64_t> where(s.c);
      for (int64_t q = 0; q < s.ow; q++) {
        const int64_t c0 = std::max<int64_t>(q * s.sw - s.pl, 0), c1 = std::min(s.w, q * s.sw - s.pl + s.kw);
        std::fill(best.begin(), best.end(), -std::numeric_limits<float>::infinity());
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

// ---- Node-API plumbing ----

struct Args {
  napi_env env;
  std::vector<napi_value> values;
  uint8_t *heap = nullptr;
  size_t heapBytes = 0;

  Args(napi_env e, napi_callback_info info, size_t expected) : env(e), values(expected) {
    size_t argc = expected;
    napi_get_cb_info(env, info, &argc, values.data(), nullptr, nullptr);
    if (argc != expected) throw std::runtime_error("expected " + std::to_string(expected) + " arguments");
  }
  void takeHeap(size_t i) {
    void *data = nullptr;
    if (napi_get_arraybuffer_info(env, values[i], &data, &heapBytes) != napi_ok) throw std::runtime_error("argument 0 must be an ArrayBuffer");
    heap = static_cast<uint8_t *>(data);
  }
  int64_t integer(size_t i) const {
    int64_t v = 0;
    if (napi_get_value_int64(env, values[i], &v) != napi_ok) throw std::runtime_error("argument " + std::to_string(i) + " must be a number");
    return v;
  }
  // A float32 tensor of `count` values at byte offset argument i; −1 means absent.
  float *tensor(size_t i, int64_t count, bool optional = false) const {
    int64_t offset = integer(i);
    if (offset < 0 && optional) return nullptr;
    if (offset < 0 || offset % 4 != 0 || static_cast<uint64_t>(offset) + 4 * static_cast<uint64_t>(count) > heapBytes)
      throw std::runtime_error("tensor argument " + std::to_string(i) + " lies outside the heap");
    return reinterpret_cast<float *>(heap + offset);
  }
  ConvShape conv(size_t i) const {
    ConvShape s;
    int64_t *fields[] = {&s.n, &s.h, &s.w, &s.c, &s.kh, &s.kw, &s.o, &s.oh, &s.ow, &s.sh, &s.sw, &s.pt, &s.pl, &s.pb, &s.pr};
    for (size_t k = 0; k < 15; k++) *fields[k] = integer(i + k);
    return s;
  }
  PoolShape pool(size_t i) const {
    PoolShape s;
    int64_t *fields[] = {&s.n, &s.h, &s.w, &s.c, &s.kh, &s.kw, &s.oh, &s.ow, &s.sh, &s.sw, &s.pt, &s.pl};
    for (size_t k = 0; k < 12; k++) *fields[k] = integer(i + k);
    return s;
  }
};

template <typename F>
napi_value guarded(napi_env env, F body) {
  try {
    body();
  } catch (const dnnl::error &e) {
    napi_throw_error(env, nullptr, (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::exception &e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

void runConv(CachedPrimitive &p, std::unordered_map<int, memory> args, int weightsArg, void *userWeights, const ConvShape &s,
             bool weightsAreOutput) {
  memory user(s.userWeights(), engine(), userWeights);
  if (p.weights.reorder) {
    if (!weightsAreOutput) p.weights.reorder->execute(stream(), {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, *p.weights.blocked}});
    args.insert({weightsArg, *p.weights.blocked});
  } else {
    args.insert({weightsArg, user});
  }
  p.prim->execute(stream(), args);
  if (p.weights.reorder && weightsAreOutput) p.weights.reorder->execute(stream(), {{DNNL_ARG_FROM, *p.weights.blocked}, {DNNL_ARG_TO, user}});
  stream().wait();
}

// convForward(heap, x, w, bias | -1, y, relu, ...ConvShape)
napi_value ConvForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 21);
    a.takeHeap(0);
    ConvShape s = a.conv(6);
    float *x = a.tensor(1, s.n * s.h * s.w * s.c), *w = a.tensor(2, s.kh * s.kw * s.c * s.o);
    float *bias = a.tensor(3, s.o, true), *y = a.tensor(4, s.n * s.oh * s.ow * s.o);
    bool relu = a.integer(5) != 0;
    CachedPrimitive &p = convForward(s, bias != nullptr, relu);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(s.src(), engine(), x)}, {DNNL_ARG_DST, memory(s.dst(), engine(), y)}};
    if (bias) args.insert({DNNL_ARG_BIAS, memory(s.bias(), engine(), bias)});
    runConv(p, args, DNNL_ARG_WEIGHTS, w, s, false);
  });
}

// convBackwardData(heap, dy, w, dx, ...ConvShape)
napi_value ConvBackwardData(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 19);
    a.takeHeap(0);
    ConvShape s = a.conv(4);
    float *dy = a.tensor(1, s.n * s.oh * s.ow * s.o), *w = a.tensor(2, s.kh * s.kw * s.c * s.o), *dx = a.tensor(3, s.n * s.h * s.w * s.c);
    CachedPrimitive &p = convBackwardData(s);
    runConv(p, {{DNNL_ARG_DIFF_DST, memory(s.dst(), engine(), dy)}, {DNNL_ARG_DIFF_SRC, memory(s.src(), engine(), dx)}},
            DNNL_ARG_WEIGHTS, w, s, false);
  });
}

// Runs a scope on one OpenMP thread and restores the count after.
class SingleThreaded {
 public:
  SingleThreaded() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreaded() { omp_set_num_threads(previous_); }
  SingleThreaded(const SingleThreaded &) = delete;
  SingleThreaded &operator=(const SingleThreaded &) = delete;

 private:
  int previous_;
};

// convBackwardWeights(heap, x, dy, dw, ...ConvShape)
// Always on one thread, its primitive created on one thread too: oneDNN's AVX-512 weights gradient
// splits the sum over the batch by the thread count it was created with, so a member trained in a
// 2-thread process (train --workers 1) got other weights, in the last bits, than in a 1-thread worker.
napi_value ConvBackwardWeights(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    SingleThreaded oneThread;
    Args a(env, info, 19);
    a.takeHeap(0);
    ConvShape s = a.conv(4);
    float *x = a.tensor(1, s.n * s.h * s.w * s.c), *dy = a.tensor(2, s.n * s.oh * s.ow * s.o), *dw = a.tensor(3, s.kh * s.kw * s.c * s.o);
    CachedPrimitive &p = convBackwardWeights(s);
    runConv(p, {{DNNL_ARG_SRC, memory(s.src(), engine(), x)}, {DNNL_ARG_DIFF_DST, memory(s.dst(), engine(), dy)}},
            DNNL_ARG_DIFF_WEIGHTS, dw, s, true);
  });
}

// matMul(heap, a, b, c, bias | -1, relu, batch, m, n, k, transA, transB, aBatchStride, bBatchStride)
// Row-major C[i] = op(A[i])·op(B[i]) (+ bias[n]) (relu); a stride of 0 broadcasts one matrix over the batch.
napi_value MatMul(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 14);
    a.takeHeap(0);
    int64_t batch = a.integer(6), m = a.integer(7), n = a.integer(8), k = a.integer(9);
    bool ta = a.integer(10) != 0, tb = a.integer(11) != 0;
    int64_t sa = a.integer(12), sb = a.integer(13);
    float *A = a.tensor(1, (batch - 1) * sa + m * k), *B = a.tensor(2, (batch - 1) * sb + k * n), *C = a.tensor(3, batch * m * n);
    float *bias = a.tensor(4, n, true);
    bool relu = a.integer(5) != 0;
    for (int64_t i = 0; i < batch; i++) {
      float *c = C + i * m * n;
      dnnl_status_t status = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.f, A + i * sa, ta ? m : k, B + i * sb, tb ? k : n, 0.f, c, n);
      if (status != dnnl_success) throw std::runtime_error("oneDNN sgemm failed with status " + std::to_string(status));
      if (bias || relu) {
        for (int64_t r = 0; r < m; r++) {
          float *row = c + r * n;
          if (bias)
            for (int64_t j = 0; j < n; j++) row[j] += bias[j];
          if (relu)
            for (int64_t j = 0; j < n; j++) row[j] = row[j] > 0.f ? row[j] : (row[j] == row[j] ? 0.f : row[j]);
        }
      }
    }
  });
}

// maxPool(heap, x, y, ...PoolShape)
napi_value MaxPool(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 15);
    a.takeHeap(0);
    PoolShape s = a.pool(3);
    maxPoolForward(s, a.tensor(1, s.n * s.h * s.w * s.c), a.tensor(2, s.n * s.oh * s.ow * s.c));
  });
}

// maxPoolGrad(heap, x, dy, dx, ...PoolShape); windows must not overlap.
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 16);
    a.takeHeap(0);
    PoolShape s = a.pool(4);
    if (s.sh < s.kh || s.sw < s.kw) throw std::runtime_error("maxPoolGrad: overlapping windows are not supported");
    maxPoolBackward(s, a.tensor(1, s.n * s.h * s.w * s.c), a.tensor(2, s.n * s.oh * s.ow * s.c), a.tensor(3, s.n * s.h * s.w * s.c));
  });
}

// elementwise(heap, op, a, b | -1, out, rows, cols, alpha): the memory-bound ops around each layer in a
// training step (bias add, relu, its gradient dy·step(y), bias gradient), which wasm runs at 128-bit width.
// op 0: out = a·b, 1: out = a + b (same shape, rows·cols values), 2: out[r, c] = a[r, c] + b[c],
// 3: relu(a) = max(0, a) (NaN stays NaN, −0 becomes +0, like tfjs-cpu), 4: step(a) = a > 0 ? 1 : alpha (NaN stays NaN),
// 5: out[c] = Σ_r a[r, c] accumulated in double, row by row in order (deterministic for any thread count).
napi_value Elementwise(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 8);
    a.takeHeap(0);
    int64_t op = a.integer(1), rows = a.integer(5), cols = a.integer(6);
    double alphaValue = 0;
    napi_get_value_double(env, a.values[7], &alphaValue);
    const float alpha = static_cast<float>(alphaValue);
    const int64_t n = rows * cols;
    const float *x = a.tensor(2, n);
    const float *y = (op <= 2) ? a.tensor(3, op == 2 ? cols : n) : nullptr;
    float *out = a.tensor(4, op == 5 ? cols : n);
    switch (op) {
      case 0:
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; i++) out[i] = x[i] * y[i];
        break;
      case 1:
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; i++) out[i] = x[i] + y[i];
        break;
      case 2:
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
          const float *in = x + r * cols;
          float *o = out + r * cols;
#pragma omp simd
          for (int64_t c = 0; c < cols; c++) o[c] = in[c] + y[c];
        }
        break;
      case 3:
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; i++) out[i] = x[i] > 0.f ? x[i] : (x[i] != x[i] ? x[i] : 0.f);
        break;
      case 4:
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; i++) out[i] = x[i] > 0.f ? 1.f : (x[i] != x[i] ? x[i] : alpha);
        break;
      case 5: {
        std::vector<double> sums(cols, 0.0);
        for (int64_t r = 0; r < rows; r++) {
          const float *in = x + r * cols;
#pragma omp simd
          for (int64_t c = 0; c < cols; c++) sums[c] += in[c];
        }
        for (int64_t c = 0; c < cols; c++) out[c] = static_cast<float>(sums[c]);
        break;
      }
      default:
        throw std::runtime_error("elementwise: unknown op " + std::to_string(op));
    }
  });
}

napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value result = nullptr;
  guarded(env, [&] {
    Args a(env, info, 1);
    int64_t n = a.integer(0);
    if (n < 1) throw std::runtime_error("setThreads: expected at least 1 thread");
    omp_set_num_threads(static_cast<int>(n));
    result = number(env, omp_get_max_threads());
  });
  return result;
}

napi_value GetThreads(napi_env env, napi_callback_info) { return number(env, omp_get_max_threads()); }

napi_value SetBlockedWeights(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 1);
    g_blockedWeights = a.integer(0) != 0;
  });
}

// {primitives, bytes}: what the primitive cache holds, for leak tests.
napi_value CacheStats(napi_env env, napi_callback_info) {
  size_t bytes = 0;
  for (auto &entry : g_cache) bytes += entry.second->weights.bytes();
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "primitives", number(env, static_cast<double>(g_cache.size())));
  napi_set_named_property(env, out, "bytes", number(env, static_cast<double>(bytes)));
  return out;
}

napi_value ClearCache(napi_env env, napi_callback_info) {
  g_cache.clear();
  return nullptr;
}

// The implementation oneDNN chose for a convolution (e.g. "jit:avx512_core", "gemm:jit"), for the bench.
napi_value ConvImplementation(napi_env env, napi_callback_info info) {
  napi_value result = nullptr;
  guarded(env, [&] {
    Args a(env, info, 16);
    ConvShape s = a.conv(1);
    size_t len = 0;
    napi_get_value_string_utf8(env, a.values[0], nullptr, 0, &len);
    std::string kind(len, '\0');
    napi_get_value_string_utf8(env, a.values[0], kind.data(), len + 1, &len);
    std::string name;
    auto hint = forwardPd(s, false, false);
    if (kind == "forward") name = hint.impl_info_str();
    else if (kind == "backwardData")
      name = dnnl::convolution_backward_data::primitive_desc(
                 dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, s.src(), s.anyWeights(), s.dst(), s.strides(), s.padL(), s.padR()),
                 engine(), hint)
                 .impl_info_str();
    else
      name = dnnl::convolution_backward_weights::primitive_desc(
                 dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, s.src(), s.anyWeights(), s.dst(), s.strides(), s.padL(),
                                                          s.padR()),
                 engine(), hint)
                 .impl_info_str();
    napi_create_string_utf8(env, name.c_str(), name.size(), &result);
  });
  return result;
}

napi_value Version(napi_env env, napi_callback_info) {
  const dnnl_version_t *v = dnnl_version();
  std::string s = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  napi_value out;
  napi_create_string_utf8(env, s.c_str(), s.size(), &out);
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"convForward", nullptr, ConvForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convBackwardData", nullptr, ConvBackwardData, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convBackwardWeights", nullptr, ConvBackwardWeights, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matMul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool", nullptr, MaxPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"elementwise", nullptr, Elementwise, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getThreads", nullptr, GetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setBlockedWeights", nullptr, SetBlockedWeights, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"cacheStats", nullptr, CacheStats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"clearCache", nullptr, ClearCache, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convImplementation", nullptr, ConvImplementation, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"version", nullptr, Version, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
