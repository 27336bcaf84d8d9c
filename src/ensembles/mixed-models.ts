/** Mixed models (section 3): members cycle through similar architectures (base, wide, deep). */
import { variantsFor } from '../datasets/registry.ts';
import { allIndices, type MethodDefinition } from './method.ts';

export const mixedModels: MethodDefinition = {
  name: 'mixed-models',
  summary: 'members cycle through network variants',
  size: 'ensemble',
  paperRows: { table2: 'mixed_models' },
  params: [],
  workPerSample: () => 1,
  plan: ({ dataset, index }) => {
    const variants = variantsFor(dataset.name);
    return { model: variants[index % variants.length], indices: allIndices(dataset.train.count), facts: {} };
  },
};
