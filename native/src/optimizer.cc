// Adam in one pass over a parameter: tfjs's AdamOptimizer runs about fifteen kernels per variable, each
// a pass over memory. The arithmetic is tfjs's, operation for operation in float32 (no fused
// multiply-add: binding.gyp builds with -ffp-contract=off), so the result is bit-identical to it:
//   m' = m·β1 + g·(1−β1);  v' = v·β2 + g²·(1−β2)
//   p' = ((m' / (1 − β1ᵗ)) / (sqrt(v' / (1 − β2ᵗ)) + ε))·(−lr) + p
// where β1ᵗ, β2ᵗ are the optimizer's float32 accumulators and every constant is rounded to float32 as
// tfjs's scalars are.

#include <cmath>

#include "call.h"

namespace ensdef {

// adam(heap, {param, grad, m, v, accBeta1, accBeta2, newParam, newM, newV}, {count},
//      {beta1, oneMinusBeta1, beta2, oneMinusBeta2, epsilon, negLearningRate})
napi_value Adam(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Call call(env, info, 4);
    call.takeHeap(0);
    napi_value t = call.arg(1), o = call.arg(3);
    const int64_t n = call.integer(call.arg(2), "count");
    const float *p = call.tensor(t, "param", n), *g = call.tensor(t, "grad", n), *m = call.tensor(t, "m", n), *v = call.tensor(t, "v", n);
    const float oneMinusAcc1 = 1.f - *call.tensor(t, "accBeta1", 1), oneMinusAcc2 = 1.f - *call.tensor(t, "accBeta2", 1);
    float *pOut = call.tensor(t, "newParam", n), *mOut = call.tensor(t, "newM", n), *vOut = call.tensor(t, "newV", n);
    const auto f32 = [&](const char *name) { return static_cast<float>(call.number(o, name)); };
    const float b1 = f32("beta1"), c1 = f32("oneMinusBeta1"), b2 = f32("beta2"), c2 = f32("oneMinusBeta2"), eps = f32("epsilon"), negLr = f32("negLearningRate");
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
      const float gi = g[i];
      const float mi = m[i] * b1 + gi * c1;
      const float vi = v[i] * b2 + (gi * gi) * c2;
      mOut[i] = mi;
      vOut[i] = vi;
      pOut[i] = ((mi / oneMinusAcc1) / (std::sqrt(vi / oneMinusAcc2) + eps)) * negLr + p[i];
    }
  });
}

}  // namespace ensdef
