// ensdef's native CPU kernels: convolutions and matmuls on oneDNN; max pooling, elementwise ops and Adam
// in plain C++. One file per concern; call.h is the boundary they share. Every kernel works in place
// on memory the caller owns (the tfjs-wasm heap): no tensor is copied in or out.

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <string>

#include "call.h"

namespace ensdef {

napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

napi_value stringValue(napi_env env, const std::string &s) {
  napi_value out;
  napi_create_string_utf8(env, s.c_str(), s.size(), &out);
  return out;
}

namespace {

napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value result = nullptr;
  guarded(env, [&] {
    Call call(env, info, 1);
    int64_t n = 0;
    if (napi_get_value_int64(env, call.arg(0), &n) != napi_ok || n < 1) throw std::runtime_error("setThreads: expected at least 1 thread");
    omp_set_num_threads(static_cast<int>(n));
    result = number(env, omp_get_max_threads());
  });
  return result;
}

napi_value GetThreads(napi_env env, napi_callback_info) { return number(env, omp_get_max_threads()); }

napi_value Version(napi_env env, napi_callback_info) {
  const dnnl_version_t *v = dnnl_version();
  return stringValue(env, std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
}

napi_value Init(napi_env env, napi_value exports) {
  const std::pair<const char *, napi_callback> functions[] = {
      {"convForward", ConvForward},
      {"convBackwardData", ConvBackwardData},
      {"convBackwardWeights", ConvBackwardWeights},
      {"convImplementation", ConvImplementation},
      {"setBlockedWeights", SetBlockedWeights},
      {"cacheStats", CacheStats},
      {"clearCache", ClearCache},
      {"matMul", MatMul},
      {"maxPool", MaxPool},
      {"maxPoolGrad", MaxPoolGrad},
      {"elementwise", Elementwise},
      {"elementwiseOps", ElementwiseOps},
      {"reluBiasGrad", ReluBiasGrad},
      {"convReluPool", ConvReluPool},
      {"convReluPoolGrad", ConvReluPoolGrad},
      {"adam", Adam},
      {"setThreads", SetThreads},
      {"getThreads", GetThreads},
      {"version", Version},
  };
  for (const auto &[name, callback] : functions) {
    napi_value fn;
    napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, nullptr, &fn);
    napi_set_named_property(env, exports, name, fn);
  }
  return exports;
}

}  // namespace
}  // namespace ensdef

NAPI_MODULE(NODE_GYP_MODULE_NAME, ensdef::Init)
