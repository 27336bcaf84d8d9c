/**
 * Child of test/backend/native-signals.test.ts: matrix products and convolutions on the native kernels at
 * varying batch sizes while signals keep arriving (its parent runs it under `node --cpu-prof`, whose sampler
 * interrupts the main thread about every millisecond). Prints one checksum of every output.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/select.ts';

await initBackend('native');
const weights = tf.randomUniform([5408, 128], -1, 1, 'float32', 1);
const filter = tf.randomUniform([3, 3, 8, 16], -1, 1, 'float32', 2) as tf.Tensor4D;
let checksum = 0;
for (let i = 0; i < 300; i++) {
  const batch = 2 + (i % 11);
  const out = tf.tidy(() => {
    const x = tf.randomUniform([batch, 5408], 0, 1, 'float32', i);
    const image = tf.randomUniform([batch, 12, 12, 8], 0, 1, 'float32', i) as tf.Tensor4D;
    return tf.concat([tf.matMul(x, weights).flatten(), tf.conv2d(image, filter, 1, 'same').flatten()]);
  });
  checksum += tf.tidy(() => out.sum().dataSync()[0]);
  out.dispose();
}
console.log(`checksum ${checksum}`);
