// Convolutions on oneDNN: forward (bias and relu fused), backward-data and backward-weights, NHWC
// activations and tfjs's HWIO weights, in place on the caller's heap (call.h).
//
// Primitives are cached by shape (creating one costs far more than running it for the paper's layers);
// the cache owns every native allocation this addon makes (blocked weight buffers), and clearCache()
// frees them all.

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "call.h"

namespace ensdef {
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

// Stream k of those that run parts of one call on separate threads: a stream is not shared between
// threads. Get them before the threads start; a deque keeps earlier references valid as it grows.
dnnl::stream &partStream(size_t k) {
  static std::deque<dnnl::stream> streams;
  while (streams.size() <= k) streams.emplace_back(engine());
  return streams[k];
}

// Whether convolutions let oneDNN choose the weights' layout (blocked, reordered per call) or use
// tfjs's HWIO as is. Blocked weights let oneDNN run its direct AVX-512 convolutions instead of gemm.
bool g_blockedWeights = true;

struct ConvShape {
  int64_t n, h, w, c, kh, kw, o, oh, ow, sh, sw, pt, pl, pb, pr;

  static ConvShape read(const Call &call, napi_value s) {
    return {call.integer(s, "batch"),       call.integer(s, "inHeight"),    call.integer(s, "inWidth"),    call.integer(s, "inChannels"),
            call.integer(s, "filterHeight"), call.integer(s, "filterWidth"), call.integer(s, "outChannels"), call.integer(s, "outHeight"),
            call.integer(s, "outWidth"),    call.integer(s, "strideHeight"), call.integer(s, "strideWidth"), call.integer(s, "padTop"),
            call.integer(s, "padLeft"),     call.integer(s, "padBottom"),   call.integer(s, "padRight")};
  }
  std::string key(const char *kind, int extra) const {
    std::string k(kind);
    for (int64_t v : {n, h, w, c, kh, kw, o, oh, ow, sh, sw, pt, pl, pb, pr}) k += ',' + std::to_string(v);
    return k + ',' + std::to_string(extra) + (g_blockedWeights ? ",b" : ",u");
  }
  int64_t inputs() const { return n * h * w * c; }
  int64_t outputs() const { return n * oh * ow * o; }
  int64_t weights() const { return kh * kw * c * o; }
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

dnnl::convolution_backward_data::primitive_desc backwardDataPd(const ConvShape &s) {
  dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, s.src(), s.anyWeights(), s.dst(), s.strides(), s.padL(), s.padR());
  return {d, engine(), forwardPd(s, false, false)};
}

// Its scratchpad is ours (user mode): a primitive with oneDNN's shared scratchpad must run on the thread
// that created it, and ConvBackwardWeights runs the batch's parts on other threads.
dnnl::convolution_backward_weights::primitive_desc backwardWeightsPd(const ConvShape &s) {
  dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, s.src(), s.anyWeights(), s.dst(), s.strides(), s.padL(), s.padR());
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return {d, attr, engine(), forwardPd(s, false, false)};
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
  // Present when the primitive takes its scratchpad from us (user mode) and needs one.
  std::unique_ptr<memory> scratchpad;
  size_t bytes() const { return weights.bytes() + (scratchpad ? scratchpad->get_desc().get_size() : 0); }
};

std::unordered_map<std::string, std::unique_ptr<CachedPrimitive>> g_cache;

// The cached primitive for `key`, made by `makePd` on first use. Prim is the primitive its descriptor builds.
template <typename Prim, typename MakePd>
CachedPrimitive &cached(const std::string &key, MakePd makePd, const ConvShape &s) {
  auto found = g_cache.find(key);
  if (found != g_cache.end()) return *found->second;
  auto pd = makePd();
  auto entry = std::make_unique<CachedPrimitive>();
  entry->prim = std::make_unique<Prim>(pd);
  if constexpr (std::is_same_v<Prim, dnnl::convolution_backward_weights>) entry->weights.prepare(pd.diff_weights_desc(), s.userWeights(), true);
  else entry->weights.prepare(pd.weights_desc(), s.userWeights(), false);
  // A library-mode descriptor reports an empty scratchpad.
  if (pd.scratchpad_desc().get_size() > 0) entry->scratchpad = std::make_unique<memory>(pd.scratchpad_desc(), engine());
  return *(g_cache[key] = std::move(entry));
}

// Runs a primitive that reads the weights (forward, backward-data).
void runConv(CachedPrimitive &p, std::unordered_map<int, memory> args, void *userWeights, const ConvShape &s) {
  memory user(s.userWeights(), engine(), userWeights);
  if (p.weights.reorder) {
    p.weights.reorder->execute(stream(), {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, *p.weights.blocked}});
    args.insert({DNNL_ARG_WEIGHTS, *p.weights.blocked});
  } else {
    args.insert({DNNL_ARG_WEIGHTS, user});
  }
  p.prim->execute(stream(), args);
  stream().wait();
}

// Runs a scope on one OpenMP thread and restores the count after.
class SingleThreaded {
 public:
  SingleThreaded() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreaded() { omp_set_num_threads(previous_); }
  SingleThreaded(const SingleThreaded &) = delete;
  SingleThreaded &operator=(const SingleThreaded &) = delete;
  int previous() const { return previous_; }

 private:
  int previous_;
};

template <typename F>
napi_value guardedDnnl(napi_env env, F body) {
  return guarded(env, [&] {
    try {
      body();
    } catch (const dnnl::error &e) {
      throw std::runtime_error(std::string("oneDNN: ") + e.what());
    }
  });
}

int64_t floorDiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

// Scratch for the narrow input gradient below; owned here so that cacheStats counts it and clearCache frees it.
std::vector<float> g_columns;
// The weights gradients of a batch's parts after the first, in HWIO, before they are added to the first's.
std::vector<float> g_partWeights;

// The input gradient of a convolution with few input channels (MNIST's first layer), which only the
// attacks compute. oneDNN's backward-data runs it at a few
// GFLOP/s (7.8 ms for MNIST's at batch 128); as one sgemm, columns = dy · Wᵀ ([B·OH·OW, O] · [O, KH·KW·C]),
// and a col2im that adds each column into its window, it runs near sgemm speed. Each image's sums are
// added in a fixed order, whatever the thread count.
void narrowBackwardData(const ConvShape &s, const float *dy, const float *w, float *dx) {
  const int64_t positions = s.n * s.oh * s.ow, window = s.kh * s.kw * s.c;
  g_columns.resize(positions * window);
  float *columns = g_columns.data();
  dnnl_status_t status = dnnl_sgemm('N', 'T', positions, window, s.o, 1.f, dy, s.o, w, s.o, 0.f, columns, window);
  if (status != dnnl_success) throw std::runtime_error("oneDNN sgemm failed with status " + std::to_string(status));
  std::memset(dx, 0, sizeof(float) * s.inputs());
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < s.n; b++) {
    // Window offset by window offset, so that the innermost loop runs over a row of dy positions with no
    // bounds test: the positions whose window offset falls inside the image are a range.
    for (int64_t u = 0; u < s.kh; u++) {
      for (int64_t v = 0; v < s.kw; v++) {
        const int64_t jFirst = std::max<int64_t>(0, -floorDiv(v - s.pl, s.sw)), jEnd = std::min(s.ow, floorDiv(s.w - 1 + s.pl - v, s.sw) + 1);
        for (int64_t i = 0; i < s.oh; i++) {
          const int64_t row = i * s.sh - s.pt + u;
          if (row < 0 || row >= s.h || jFirst >= jEnd) continue;
          const float *source = columns + ((b * s.oh + i) * s.ow) * window + (u * s.kw + v) * s.c;
          float *target = dx + ((b * s.h + row) * s.w - s.pl + v) * s.c;
          for (int64_t j = jFirst; j < jEnd; j++) {
            for (int64_t c = 0; c < s.c; c++) target[j * s.sw * s.c + c] += source[j * window + c];
          }
        }
      }
    }
  }
}

// Up to this many input channels the sgemm + col2im form is used: it wins on MNIST's single channel
// (7.8 → 3.1 ms); on CIFAR-10's three it was a draw with oneDNN (9.5–11.4 vs 9.8 ms, AVX2), so oneDNN keeps it.
constexpr int64_t kNarrowInputChannels = 1;

}  // namespace

// convForward(heap, {x, filter, bias?, y}, ConvShape, {relu})
napi_value ConvForward(napi_env env, napi_callback_info info) {
  return guardedDnnl(env, [&] {
    Call call(env, info, 4);
    call.takeHeap(0);
    ConvShape s = ConvShape::read(call, call.arg(2));
    napi_value t = call.arg(1);
    float *x = call.tensor(t, "x", s.inputs()), *w = call.tensor(t, "filter", s.weights());
    float *bias = call.tensor(t, "bias", s.o, true), *y = call.tensor(t, "y", s.outputs());
    bool relu = call.flag(call.arg(3), "relu");
    CachedPrimitive &p = cached<dnnl::convolution_forward>(s.key("fwd", (bias ? 1 : 0) | (relu ? 2 : 0)), [&] { return forwardPd(s, bias != nullptr, relu); }, s);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(s.src(), engine(), x)}, {DNNL_ARG_DST, memory(s.dst(), engine(), y)}};
    if (bias) args.insert({DNNL_ARG_BIAS, memory(s.bias(), engine(), bias)});
    runConv(p, args, w, s);
  });
}

// convBackwardData(heap, {dy, filter, dx}, ConvShape)
napi_value ConvBackwardData(napi_env env, napi_callback_info info) {
  return guardedDnnl(env, [&] {
    Call call(env, info, 3);
    call.takeHeap(0);
    ConvShape s = ConvShape::read(call, call.arg(2));
    napi_value t = call.arg(1);
    float *dy = call.tensor(t, "dy", s.outputs()), *w = call.tensor(t, "filter", s.weights()), *dx = call.tensor(t, "dx", s.inputs());
    if (s.c <= kNarrowInputChannels) return narrowBackwardData(s, dy, w, dx);
    CachedPrimitive &p = cached<dnnl::convolution_backward_data>(s.key("bwd_data", 0), [&] { return backwardDataPd(s); }, s);
    runConv(p, {{DNNL_ARG_DIFF_DST, memory(s.dst(), engine(), dy)}, {DNNL_ARG_DIFF_SRC, memory(s.src(), engine(), dx)}}, w, s);
  });
}

// convBackwardWeights(heap, {x, dy, dw}, ConvShape, {parts})
// The sum over the batch is split into `parts` fixed runs of images (sizes differing by at most one, the
// larger first), each summed by a primitive created and run on one thread, the runs on separate threads
// where the process has them, then added in order: the same bits on any thread count. oneDNN's own
// threading would not give that: its AVX-512 weights gradient splits the batch by the thread count the
// primitive was created with, so a member trained in a 2-thread process (train --workers 1) got other
// weights, in the last bits, than in a 1-thread worker. The caller picks `parts` from the shape alone.
napi_value ConvBackwardWeights(napi_env env, napi_callback_info info) {
  return guardedDnnl(env, [&] {
    SingleThreaded oneThread;
    Call call(env, info, 4);
    call.takeHeap(0);
    ConvShape s = ConvShape::read(call, call.arg(2));
    napi_value t = call.arg(1);
    float *x = call.tensor(t, "x", s.inputs()), *dy = call.tensor(t, "dy", s.outputs()), *dw = call.tensor(t, "dw", s.weights());
    const int64_t parts = call.integer(call.arg(3), "parts");
    if (parts < 1 || parts > s.n) throw std::runtime_error("convBackwardWeights: parts must be between 1 and the batch size");
    struct Part {
      int64_t first;
      ConvShape shape;
      CachedPrimitive *primitive;
      float *weights;
      dnnl::stream *stream;
    };
    g_partWeights.resize((parts - 1) * s.weights());
    std::vector<Part> runs;
    for (int64_t k = 0, first = 0; k < parts; k++) {
      ConvShape shape = s;
      shape.n = s.n / parts + (k < s.n % parts ? 1 : 0);
      CachedPrimitive &p = cached<dnnl::convolution_backward_weights>(shape.key("bwd_weights", static_cast<int>(k)), [&] { return backwardWeightsPd(shape); }, shape);
      runs.push_back({first, shape, &p, k == 0 ? dw : g_partWeights.data() + (k - 1) * s.weights(), &partStream(k)});
      first += shape.n;
    }
    std::vector<std::string> errors(parts);
#pragma omp parallel for num_threads(static_cast<int>(std::min<int64_t>(oneThread.previous(), parts))) schedule(static)
    for (int64_t k = 0; k < parts; k++) {
      // An exception must not leave an OpenMP region: it is kept and thrown after.
      try {
        const Part &r = runs[k];
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(r.shape.src(), engine(), x + r.first * s.h * s.w * s.c)},
                                             {DNNL_ARG_DIFF_DST, memory(r.shape.dst(), engine(), dy + r.first * s.oh * s.ow * s.o)},
                                             {DNNL_ARG_DIFF_WEIGHTS, r.primitive->weights.reorder ? *r.primitive->weights.blocked : memory(s.userWeights(), engine(), r.weights)}};
        if (r.primitive->scratchpad) args.insert({DNNL_ARG_SCRATCHPAD, *r.primitive->scratchpad});
        r.primitive->prim->execute(*r.stream, args);
        r.stream->wait();
      } catch (const std::exception &e) {
        errors[k] = e.what();
      }
    }
    for (const std::string &e : errors)
      if (!e.empty()) throw std::runtime_error(e);
    for (const Part &r : runs) {
      if (!r.primitive->weights.reorder) continue;
      r.primitive->weights.reorder->execute(stream(), {{DNNL_ARG_FROM, *r.primitive->weights.blocked}, {DNNL_ARG_TO, memory(s.userWeights(), engine(), r.weights)}});
    }
    stream().wait();
    for (int64_t k = 1; k < parts; k++) {
      const float *part = runs[k].weights;
      for (int64_t i = 0; i < s.weights(); i++) dw[i] += part[i];
    }
  });
}

// convImplementation(kind, ConvShape): what oneDNN chose (e.g. "jit:avx512_core", "gemm:jit"), for the bench.
napi_value ConvImplementation(napi_env env, napi_callback_info info) {
  napi_value result = nullptr;
  guardedDnnl(env, [&] {
    Call call(env, info, 2);
    std::string kind = call.text(call.arg(0));
    ConvShape s = ConvShape::read(call, call.arg(1));
    std::string name = kind == "forward"        ? forwardPd(s, false, false).impl_info_str()
                       : kind == "backwardData" ? backwardDataPd(s).impl_info_str()
                                                : backwardWeightsPd(s).impl_info_str();
    result = stringValue(env, name);
  });
  return result;
}

napi_value SetBlockedWeights(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call call(env, info, 1);
    bool on = false;
    if (napi_get_value_bool(env, call.arg(0), &on) != napi_ok) throw std::runtime_error("setBlockedWeights: expected a boolean");
    g_blockedWeights = on;
  });
}

// {primitives, bytes}: what the primitive cache holds, for leak tests.
napi_value CacheStats(napi_env env, napi_callback_info) {
  size_t bytes = 0;
  for (auto &entry : g_cache) bytes += entry.second->bytes();
  bytes += (g_columns.capacity() + g_partWeights.capacity()) * sizeof(float);
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "primitives", number(env, static_cast<double>(g_cache.size())));
  napi_set_named_property(env, out, "bytes", number(env, static_cast<double>(bytes)));
  return out;
}

napi_value ClearCache(napi_env env, napi_callback_info) {
  g_cache.clear();
  std::vector<float>().swap(g_columns);
  std::vector<float>().swap(g_partWeights);
  return nullptr;
}

}  // namespace ensdef
