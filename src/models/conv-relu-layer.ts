/**
 * A 3×3, stride-1 convolution with bias and relu, optionally followed by 2×2 max pooling, as one layer:
 * tf.layers.conv2d's weights (a Glorot-uniform kernel [3, 3, in, filters] drawn from the layer's seed, a
 * zero bias, created in that order), computed by backend/conv-relu.ts, which fuses it and its backward on
 * the native path and is tfjs's own fused convolution (then tf.maxPool) elsewhere.
 */
import * as tf from '@tensorflow/tfjs';
import { convRelu, convReluPool, type ConvReluPadding } from '../backend/conv-relu.ts';

/** The layer's own fields beside tfjs's layer arguments (name, inputShape, and batchInputShape when a checkpoint rebuilds it). */
export type ConvReluArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]> & {
  filters: number;
  padding: ConvReluPadding;
  seed: number;
  /** 2×2 max pooling, stride 2, after the relu (as tf.layers.maxPooling2d({ poolSize: 2 })). */
  pool?: boolean;
};

const KERNEL_SIZE = 3;

export class ConvRelu extends tf.layers.Layer {
  static className = 'EnsdefConvRelu';
  readonly filters: number;
  readonly padding: ConvReluPadding;
  readonly seed: number;
  readonly pool: boolean;
  private kernel?: tf.LayerVariable;
  private bias?: tf.LayerVariable;

  constructor(args: ConvReluArgs) {
    super(args);
    this.filters = args.filters;
    this.padding = args.padding;
    this.seed = args.seed;
    this.pool = args.pool ?? false;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const channels = shape[shape.length - 1] as number;
    this.kernel = this.addWeight('kernel', [KERNEL_SIZE, KERNEL_SIZE, channels, this.filters], 'float32', tf.initializers.glorotUniform({ seed: this.seed }));
    this.bias = this.addWeight('bias', [this.filters], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [batch, height, width] = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const shrink = this.padding === 'valid' ? KERNEL_SIZE - 1 : 0;
    const side = (n: number | null) => (n === null ? null : this.pool ? Math.floor((n - shrink) / 2) : n - shrink);
    return [batch, side(height), side(width), this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    const op = this.pool ? convReluPool : convRelu;
    return tf.tidy(() => op(x, this.kernel!.read() as tf.Tensor4D, this.bias!.read() as tf.Tensor1D, this.padding));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), filters: this.filters, padding: this.padding, seed: this.seed, pool: this.pool, activation: 'relu' };
  }
}

tf.serialization.registerClass(ConvRelu);
