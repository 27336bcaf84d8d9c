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

export type ConvReluPadding = 'same' | 'valid';

export interface ConvReluAttrs {
  pad: ConvReluPadding;
}

function fusedOnBackend(...tensors: tf.Tensor[]): boolean {
  const backend = tf.getBackend();
  return tf.getKernel(CONV_RELU_KERNEL, backend) !== undefined && tf.getKernel(RELU_BIAS_GRAD_KERNEL, backend) !== undefined && tensors.every((t) => t.dtype === 'float32');
}

export function convRelu(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, pad: ConvReluPadding): tf.Tensor4D {
  if (!fusedOnBackend(x, filter, bias)) return tf.fused.conv2d({ x, filter, bias, strides: 1, pad, dataFormat: 'NHWC', activation: 'relu' });
  const attrs: ConvReluAttrs = { pad };
  return tf.engine().runKernel(CONV_RELU_KERNEL, { x, filter, bias }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

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
