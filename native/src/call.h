// The JS boundary shared by every kernel file: a kernel is called as
//   kernel(heap, tensors, shape[, options])
// where `heap` is the tfjs-wasm heap's ArrayBuffer (taken on every call: it is replaced when the memory
// grows), `tensors` an object of named byte offsets into it (an absent name is an absent tensor), and
// `shape` / `options` objects of named numbers. Names, not positions: a field cannot be passed in the
// wrong slot, and src/backend/native-addon.ts types the same names.
#pragma once

#include <node_api.h>
#include <pthread.h>

#include <csignal>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ensdef {

class Call {
 public:
  Call(napi_env env, napi_callback_info info, size_t minArgs) : env_(env), values_(8) {
    size_t argc = values_.size();
    napi_get_cb_info(env, info, &argc, values_.data(), nullptr, nullptr);
    if (argc < minArgs) throw std::runtime_error("expected at least " + std::to_string(minArgs) + " arguments, got " + std::to_string(argc));
    values_.resize(argc);
  }

  napi_env env() const { return env_; }
  napi_value arg(size_t i) const {
    if (i >= values_.size()) throw std::runtime_error("missing argument " + std::to_string(i));
    return values_[i];
  }

  // Argument i is the heap every tensor offset points into.
  void takeHeap(size_t i) {
    void *data = nullptr;
    if (napi_get_arraybuffer_info(env_, arg(i), &data, &heapBytes_) != napi_ok) throw std::runtime_error("argument " + std::to_string(i) + " must be an ArrayBuffer");
    heap_ = static_cast<uint8_t *>(data);
  }

  bool has(napi_value object, const char *name) const {
    bool present = false;
    napi_has_named_property(env_, object, name, &present);
    if (!present) return false;
    napi_valuetype type;
    napi_typeof(env_, property(object, name), &type);
    return type != napi_undefined && type != napi_null;
  }

  double number(napi_value object, const char *name) const {
    double v = 0;
    if (napi_get_value_double(env_, property(object, name), &v) != napi_ok) throw std::runtime_error(std::string("field '") + name + "' must be a number");
    return v;
  }

  int64_t integer(napi_value object, const char *name) const {
    double v = number(object, name);
    if (v != static_cast<double>(static_cast<int64_t>(v))) throw std::runtime_error(std::string("field '") + name + "' must be an integer");
    return static_cast<int64_t>(v);
  }

  bool flag(napi_value object, const char *name) const {
    bool v = false;
    if (napi_get_value_bool(env_, property(object, name), &v) != napi_ok) throw std::runtime_error(std::string("field '") + name + "' must be a boolean");
    return v;
  }

  std::string text(napi_value value) const {
    size_t length = 0;
    if (napi_get_value_string_utf8(env_, value, nullptr, 0, &length) != napi_ok) throw std::runtime_error("expected a string");
    std::string s(length, '\0');
    napi_get_value_string_utf8(env_, value, s.data(), length + 1, &length);
    return s;
  }

  // The tensor `name` of `tensors`, `count` values of T long (float32, or uint8_t for a bool tensor: tfjs-wasm
  // stores one byte per bool, 0 or 1); nullptr when optional and absent.
  template <typename T = float>
  T *tensor(napi_value tensors, const char *name, int64_t count, bool optional = false) const {
    if (!has(tensors, name)) {
      if (optional) return nullptr;
      throw std::runtime_error(std::string("tensor '") + name + "' is missing");
    }
    int64_t offset = integer(tensors, name);
    if (offset < 0 || offset % alignof(T) != 0 || static_cast<uint64_t>(offset) + sizeof(T) * static_cast<uint64_t>(count) > heapBytes_)
      throw std::runtime_error(std::string("tensor '") + name + "' lies outside the heap");
    return reinterpret_cast<T *>(heap_ + offset);
  }

 private:
  napi_value property(napi_value object, const char *name) const {
    napi_value v;
    if (napi_get_named_property(env_, object, name, &v) != napi_ok) throw std::runtime_error(std::string("field '") + name + "' is missing");
    return v;
  }

  napi_env env_;
  std::vector<napi_value> values_;
  uint8_t *heap_ = nullptr;
  size_t heapBytes_ = 0;
};

// Asynchronous signals stay pending while it lives. oneDNN's JIT sgemm points the stack pointer into a
// heap buffer while it runs (uxlfoundation/oneDNN#4845, fixed in 3.11.2), so a signal handled then — a
// profiler's SIGPROF, a SIGCHLD from a finished worker, SIGWINCH — writes its frame into the heap. OpenMP's
// threads are created inside kernels, so they inherit the blocked mask for good; faults stay deliverable.
class SignalsDeferred {
 public:
  SignalsDeferred() {
    sigset_t all;
    sigfillset(&all);
    for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP}) sigdelset(&all, fault);
    pthread_sigmask(SIG_BLOCK, &all, &previous_);
  }
  ~SignalsDeferred() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  SignalsDeferred(const SignalsDeferred &) = delete;
  SignalsDeferred &operator=(const SignalsDeferred &) = delete;

 private:
  sigset_t previous_;
};

// Runs a kernel body with asynchronous signals deferred, turning C++ exceptions into JS errors.
template <typename F>
napi_value guarded(napi_env env, F body) {
  try {
    SignalsDeferred deferred;
    body();
  } catch (const std::exception &e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

napi_value number(napi_env env, double v);
napi_value stringValue(napi_env env, const std::string &s);

// One exported function per kernel; each lives in the file of its concern.
napi_value ConvForward(napi_env, napi_callback_info);
napi_value ConvBackwardData(napi_env, napi_callback_info);
napi_value ConvBackwardWeights(napi_env, napi_callback_info);
napi_value ConvImplementation(napi_env, napi_callback_info);
napi_value CacheStats(napi_env, napi_callback_info);
napi_value ClearCache(napi_env, napi_callback_info);
napi_value SetBlockedWeights(napi_env, napi_callback_info);
napi_value MatMul(napi_env, napi_callback_info);
napi_value MaxPool(napi_env, napi_callback_info);
napi_value MaxPoolGrad(napi_env, napi_callback_info);
napi_value Elementwise(napi_env, napi_callback_info);
napi_value ElementwiseOps(napi_env, napi_callback_info);
napi_value Adam(napi_env, napi_callback_info);
napi_value ReluBiasGrad(napi_env, napi_callback_info);
napi_value ConvReluPool(napi_env, napi_callback_info);
napi_value ConvReluPoolGrad(napi_env, napi_callback_info);

}  // namespace ensdef
