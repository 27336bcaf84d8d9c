/**
 * relu(conv2d(x, filter) + bias), stride 1, NHWC: every convolution of the paper's networks, as one op
 * whose backward is fused too. Under a gradient tape tfjs splits its own fused convolution into Conv2D,
 * Add and Relu (three passes over the activations forward) and back-propagates through Relu, Multiply,
 * Step and Sum (four more). Where the active backend has the kernels (the native path), this runs the
 * convolution with bias and relu in one oneDNN call and its backward as one pass (relu's gradient and the
 * bias gradient together) before the convolution's two backprops. Elsewhere it is tf.fused.conv2d, the
 * op tfjs-layers' Conv2D runs, so a model built on it computes what one built on tf.layers.conv2d does.
 */
import * as tf from '@tensorflow/tfjs';

export const CONV_RELU_KERNEL = 'EnsdefConvRelu';
export const RELU_BIAS_GRAD_KERNEL = 'EnsdefReluBiasGrad';
export const CONV_RELU_POOL_KERNEL = 'EnsdefConvReluPool';
export const CONV_RELU_POOL_GRAD_KERNEL = 'EnsdefConvReluPoolGrad';

/**
 * The shape of EnsdefConvReluPool's second output: one byte per pooled value (its maximum's position in the
 * window), four to an int32, since tfjs has no 8-bit dtype. The kernel runs filters in blocks of eight, so
 * the pooled size divides by four.
 */
export function convReluPoolPositionsShape(pooledShape: number[]): number[] {
  return [tf.util.sizeFromShape(pooledShape) / 4];
}

/** Which gradient EnsdefConvReluPoolGrad computes. */
export interface ConvReluPoolGradAttrs {
  of: 'filter' | 'input';
}

export type ConvReluPadding = 'same' | 'valid';

export interface ConvReluAttrs {
  pad: ConvReluPadding;
}

function fusedOnBackend(kernels: string[], ...tensors: tf.Tensor[]): boolean {
  const backend = tf.getBackend();
  return kernels.every((k) => tf.getKernel(k, backend) !== undefined) && tensors.every((t) => t.dtype === 'float32');
}

export function convRelu(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, pad: ConvReluPadding): tf.Tensor4D {
  if (!fusedOnBackend([CONV_RELU_KERNEL, RELU_BIAS_GRAD_KERNEL], x, filter, bias)) return tf.fused.conv2d({ x, filter, bias, strides: 1, pad, dataFormat: 'NHWC', activation: 'relu' });
  const attrs: ConvReluAttrs = { pad };
  return tf.engine().runKernel(CONV_RELU_KERNEL, { x, filter, bias }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * maxPool(convRelu(x, filter, bias, pad), 2×2, stride 2). A 3×3 'valid' convolution of a one-channel image
 * (MNIST's first layer) runs as one kernel that never stores the activations (native/src/conv-pool.cc);
 * any other is convRelu followed by max pooling.
 */
export function convReluPool(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, pad: ConvReluPadding): tf.Tensor4D {
  const [kh, kw, inChannels] = filter.shape;
  // The kernel runs filters in blocks of eight.
  const oneChannel = inChannels === 1 && kh === 3 && kw === 3 && filter.shape[3] % 8 === 0 && pad === 'valid' && x.shape[1] >= 4 && x.shape[2] >= 4;
  if (oneChannel && fusedOnBackend([CONV_RELU_POOL_KERNEL, CONV_RELU_POOL_GRAD_KERNEL, RELU_BIAS_GRAD_KERNEL], x, filter, bias)) {
    const [pooled, positions] = tf.engine().runKernel(CONV_RELU_POOL_KERNEL, { x, filter, bias }, {}) as [tf.Tensor4D, tf.Tensor1D];
    // A gradient tape keeps its own reference for the backward.
    positions.dispose();
    return pooled;
  }
  return tf.maxPool(convRelu(x, filter, bias, pad), 2, 2, 'valid');
}

tf.registerGradient({
  kernelName: CONV_RELU_POOL_KERNEL,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true, true],
  gradFunc: (dys, saved) => {
    // The second output (the positions) passes no gradient.
    const dy = (dys as tf.Tensor[])[0];
    const [x, filter, pooled, positions] = saved;
    const gradientOf = (of: ConvReluPoolGradAttrs['of']) => () =>
      tf.engine().runKernel(CONV_RELU_POOL_GRAD_KERNEL, { x, filter, y: pooled, positions, dy }, { of } as unknown as tf.NamedAttrMap) as tf.Tensor;
    return {
      x: gradientOf('input'),
      filter: gradientOf('filter'),
      // Only each window's maximum passes a gradient, and it is the pooled value: relu's step of the pooled
      // output gives the bias gradient without the activations.
      bias: () => (tf.engine().runKernel(RELU_BIAS_GRAD_KERNEL, { dy, z: pooled }, {}) as tf.Tensor[])[1],
    };
  },
});

tf.registerGradient({
  kernelName: CONV_RELU_KERNEL,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, z] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const { pad } = attrs as unknown as ConvReluAttrs;
    // The gradient with respect to the pre-activation, and the bias gradient, shared by all three inputs' gradients.
    const [da, db] = tf.engine().runKernel(RELU_BIAS_GRAD_KERNEL, { dy: dy as tf.Tensor, z }, {}) as [tf.Tensor4D, tf.Tensor1D];
    const conv = { strides: 1, pad, dataFormat: 'NHWC', dilations: 1 };
    return {
      x: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: da, filter }, { ...conv, inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
      filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: da }, { ...conv, filterShape: filter.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
      bias: () => db,
    };
  },
});
