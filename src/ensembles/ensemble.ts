/**
 * An ensemble loaded from a run: predicts with the mean of its members' softmax probabilities and
 * exposes each member's logits to the attacks. Owns its models; call dispose().
 */
import * as tf from '@tensorflow/tfjs';
import { loadCheckpoint } from '../models/checkpoint.ts';
import { readManifest, type Manifest } from '../run/manifest.ts';
import { memberDir } from '../run/run-dir.ts';
import { UserError } from '../errors.ts';

export class Ensemble {
  constructor(readonly members: tf.LayersModel[]) {
    if (members.length === 0) throw new Error('an ensemble needs at least one member');
  }

  static async load(dir: string, manifest: Manifest = readManifest(dir)): Promise<Ensemble> {
    const done = manifest.members.map((m) => m.index).sort((a, b) => a - b);
    if (done.length < manifest.config.members) {
      throw new UserError(`run ${dir} has ${done.length}/${manifest.config.members} members trained; rerun its 'ensdef train' command to finish it`);
    }
    const models: tf.LayersModel[] = [];
    for (const index of done) models.push(await loadCheckpoint(memberDir(dir, index)));
    return new Ensemble(models);
  }

  get size(): number {
    return this.members.length;
  }

  memberLogits(x: tf.Tensor4D, index: number): tf.Tensor2D {
    return this.members[index].apply(x, { training: false }) as tf.Tensor2D;
  }

  allMemberLogits(x: tf.Tensor4D): tf.Tensor2D[] {
    return this.members.map((_, i) => this.memberLogits(x, i));
  }

  /** Mean of the members' softmax probabilities: what the ensemble predicts with. */
  probabilities(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => meanProbabilities(this.allMemberLogits(x)));
  }

  dispose(): void {
    for (const model of this.members) model.dispose();
  }
}

/** The mean of the members' softmax probabilities, from their logits. */
export function meanProbabilities(memberLogits: readonly tf.Tensor2D[]): tf.Tensor2D {
  return tf.tidy(() => tf.mean(tf.stack(memberLogits.map((l) => tf.softmax(l))), 0) as tf.Tensor2D);
}
