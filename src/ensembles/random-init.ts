/** Random initialisation (section 3): same architecture and data, different initial weights per member. */
import { baseModelFor } from '../datasets/registry.ts';
import { allIndices, type MethodDefinition, type MemberPlan, type MemberContext } from './method.ts';

function plainMember({ dataset }: MemberContext): MemberPlan {
  return { model: baseModelFor(dataset.name), indices: allIndices(dataset.train.count), facts: {} };
}

export const single: MethodDefinition = { name: 'single', summary: 'one model', size: 'single', paperRows: {}, params: [], workPerSample: () => 1, plan: plainMember };

export const randomInit: MethodDefinition = {
  name: 'random-init',
  summary: 'members differ in their initial weights',
  size: 'ensemble',
  paperRows: { table2: 'random_init' },
  params: [],
  workPerSample: () => 1,
  plan: plainMember,
};
