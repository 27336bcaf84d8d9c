// Matrix products on oneDNN's sgemm, with tfjs's transposes, batch broadcast, bias and relu.

#include <oneapi/dnnl/dnnl.hpp>

#include <string>

#include "call.h"

namespace ensdef {

// matMul(heap, {a, b, c, bias?}, {batch, m, n, k, transposeA, transposeB, aBatchStride, bBatchStride}, {relu})
// Row-major C[i] = op(A[i])·op(B[i]) (+ bias[n]) (relu); a stride of 0 broadcasts one matrix over the batch.
napi_value MatMul(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call call(env, info, 4);
    call.takeHeap(0);
    napi_value t = call.arg(1), s = call.arg(2);
    int64_t batch = call.integer(s, "batch"), m = call.integer(s, "m"), n = call.integer(s, "n"), k = call.integer(s, "k");
    bool ta = call.flag(s, "transposeA"), tb = call.flag(s, "transposeB");
    int64_t sa = call.integer(s, "aBatchStride"), sb = call.integer(s, "bBatchStride");
    float *A = call.tensor(t, "a", (batch - 1) * sa + m * k), *B = call.tensor(t, "b", (batch - 1) * sb + k * n), *C = call.tensor(t, "c", batch * m * n);
    float *bias = call.tensor(t, "bias", n, true);
    bool relu = call.flag(call.arg(3), "relu");
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

}  // namespace ensdef
