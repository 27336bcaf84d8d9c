/** What a scored model predicts (single member: argmax logits; ensemble: argmax mean softmax), and scorers built on it. */
import * as tf from '@tensorflow/tfjs';
import { meanProbabilities, type Ensemble } from '../ensembles/ensemble.ts';

/** x → predicted class per example (int32 [B]). */
export type Predictor = (x: tf.Tensor4D) => tf.Tensor1D;

/** (x, integer labels [B]) → bool [B], true where the prediction equals the label. */
export type Scorer = (x: tf.Tensor4D, labels: tf.Tensor1D) => tf.Tensor1D;

export function memberPredictor(ensemble: Ensemble, member: number): Predictor {
  return (x) => tf.tidy(() => tf.argMax(ensemble.memberLogits(x, member), 1) as tf.Tensor1D);
}

export function ensemblePredictor(ensemble: Ensemble): Predictor {
  return (x) => tf.tidy(() => tf.argMax(ensemble.probabilities(x), 1) as tf.Tensor1D);
}

/**
 * The majority of the members' argmaxes (the paper's word "vote", read literally); a tie among the most-voted
 * classes goes to the most probable under the mean of probabilities.
 */
export function majorityVotePredictor(ensemble: Ensemble): Predictor {
  return (x) =>
    tf.tidy(() => {
      const logits = ensemble.allMemberLogits(x);
      const classes = logits[0].shape[1];
      const votes = tf.addN(logits.map((l) => tf.oneHot(tf.argMax(l, 1) as tf.Tensor1D, classes).toFloat()));
      // Votes are whole numbers and half a mean probability is below 1/2, so it only breaks ties.
      return tf.argMax(tf.add(votes, tf.mul(meanProbabilities(logits), 0.5)), 1) as tf.Tensor1D;
    });
}

export function scorerOf(predict: Predictor): Scorer {
  return (x, labels) => tf.tidy(() => tf.equal(predict(x), labels) as tf.Tensor1D);
}
