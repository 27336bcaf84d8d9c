/** Random initialisation (section 3): same architecture and data, different initial weights per member. */
import { baseModelFor } from '../datasets/registry.ts';
import { allIndices, type EnsembleMethod } from './method.ts';

export const randomInit: EnsembleMethod = {
  plan: ({ dataset }) => ({ model: baseModelFor(dataset.name), indices: allIndices(dataset.train.count), facts: {} }),
};
