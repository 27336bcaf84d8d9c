/** Mixed models (section 3): members cycle through similar architectures (base, wide, deep). */
import { variantsFor } from '../datasets/registry.ts';
import { allIndices, type EnsembleMethod } from './method.ts';

export const mixedModels: EnsembleMethod = {
  plan: ({ dataset, index }) => {
    const variants = variantsFor(dataset.name);
    return { model: variants[index % variants.length], indices: allIndices(dataset.train.count), facts: {} };
  },
};
