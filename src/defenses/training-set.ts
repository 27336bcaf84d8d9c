/** The examples a defended member trains on: the whole training split, or (bagging+…) its own bootstrap replicate. */
import { bootstrapIndices, uniqueFraction } from '../ensembles/bagging.ts';
import { allIndices, type MemberContext } from '../ensembles/method.ts';

export interface MemberTrainingSet {
  indices: Int32Array;
  /** Recorded in the member's facts: the bootstrap's unique fraction when bagging. */
  facts: Record<string, unknown>;
}

export function memberTrainingSet({ dataset, seed }: MemberContext, bootstrap: boolean): MemberTrainingSet {
  const count = dataset.train.count;
  if (!bootstrap) return { indices: allIndices(count), facts: {} };
  const indices = bootstrapIndices(seed, count);
  return { indices, facts: { uniqueFraction: uniqueFraction(indices, count) } };
}
