/**
 * Adam whose update runs as one kernel per parameter where the active backend has one (the native path:
 * native/src/optimizer.cc), instead of tfjs's ~15 elementwise kernels per variable, each a pass over
 * memory. The kernel does tfjs's arithmetic operation for operation in float32, so weights are
 * bit-identical to tf.train.adam's; the optimizer's state (moments, β powers, iterations) is tfjs's own,
 * so checkpoints (src/models/train-state.ts) read and write it unchanged. Where no kernel is registered
 * (wasm without the addon, cpu, tfjs-node) this is tf.train.adam.
 */
import * as tf from '@tensorflow/tfjs';

/** tfjs-core's parameter type of applyGradients (its NamedTensor is not re-exported by @tensorflow/tfjs). */
type VariableGradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];

export const FUSED_ADAM_KERNEL = 'EnsdefAdam';

/** The update's attributes; the kernel rounds each constant to float32 as tfjs's scalars are. */
export interface FusedAdamAttrs {
  beta1: number;
  beta2: number;
  learningRate: number;
  epsilon: number;
}

/** AdamOptimizer's state, as tfjs-core 4.x lays it out (train-state.ts checks the same fields). */
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

export class FusedAdam extends tf.AdamOptimizer {
  override applyGradients(variableGradients: VariableGradients): void {
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const gradientOf = (name: string, i: number) => (Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name]);
    const variables = tf.engine().registeredVariables;
    const fusable =
      tf.getKernel(FUSED_ADAM_KERNEL, tf.getBackend()) !== undefined &&
      names.every((name, i) => variables[name].dtype === 'float32' && (gradientOf(name, i) ?? { dtype: 'float32' }).dtype === 'float32');
    if (!fusable) {
      super.applyGradients(variableGradients);
      return;
    }
    const state = this as unknown as AdamState;
    const attrs: FusedAdamAttrs = { beta1: this.beta1, beta2: this.beta2, learningRate: this.learningRate, epsilon: this.epsilon };
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = variables[name];
        // Slots are created for every variable, with or without a gradient, as AdamOptimizer does.
        state.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        state.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const gradient = gradientOf(name, i);
        if (gradient == null) return;
        const m = state.accumulatedFirstMoment[i].variable;
        const v = state.accumulatedSecondMoment[i].variable;
        const inputs = { param: value, grad: gradient, m, v, accBeta1: state.accBeta1, accBeta2: state.accBeta2 };
        const [newValue, newM, newV] = tf.engine().runKernel(FUSED_ADAM_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(newM);
        v.assign(newV);
        value.assign(newValue);
      });
      state.accBeta1.assign(tf.mul(state.accBeta1, this.beta1));
      state.accBeta2.assign(tf.mul(state.accBeta2, this.beta2));
    });
    this.incrementIterations();
  }
}

/** tf.train.adam's defaults (β1 0.9, β2 0.999, the backend's ε), fused where the backend can. */
export function adam(learningRate: number): tf.AdamOptimizer {
  return new FusedAdam(learningRate, 0.9, 0.999);
}
