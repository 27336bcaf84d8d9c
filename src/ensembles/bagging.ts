/** Bagging (section 3): each member trains on its own bootstrap replicate (m draws with replacement from m). */
import { baseModelFor } from '../datasets/registry.ts';
import { deriveSeed, Rng } from '../run/rng.ts';
import { MEMBER_STREAMS, type MethodDefinition } from './method.ts';

export function uniqueFraction(indices: Int32Array, count: number): number {
  const seen = new Uint8Array(count);
  let unique = 0;
  for (const i of indices) {
    if (!seen[i]) {
      seen[i] = 1;
      unique++;
    }
  }
  return count === 0 ? 0 : unique / count;
}

export function bootstrapIndices(memberSeed: number, count: number): Int32Array {
  return new Rng(deriveSeed(memberSeed, MEMBER_STREAMS.bootstrap)).bootstrap(count);
}

export const bagging: MethodDefinition = {
  name: 'bagging',
  summary: 'each member trains on its own bootstrap replicate',
  size: 'ensemble',
  paperRows: { table2: 'bagging', table4: 'bagging' },
  params: [],
  workPerSample: () => 1,
  plan: ({ dataset, seed }) => {
    const indices = bootstrapIndices(seed, dataset.train.count);
    return { model: baseModelFor(dataset.name), indices, facts: { uniqueFraction: uniqueFraction(indices, dataset.train.count) } };
  },
};
