/**
 * Scales of `ensdef reproduce`. `paper` is the paper's exact scale; `cpu` trims it so a data set's Tables 2
 * and 4 finish in hours on 2 cores (each data set states its own trim: src/datasets/); `smoke` checks the
 * whole pipeline in minutes (what CI runs).
 */
import type { LossForm } from '../attacks/gradients.ts';
import type { DatasetDescriptor, ReproductionScale } from '../datasets/descriptor.ts';

export interface Preset {
  name: PresetName;
  summary: string;
  lossForms: LossForm[];
  pgdRestarts: number;
  /** The ε values of the sweeps on a data set. */
  sweepEps: (dataset: DatasetDescriptor) => number[];
  /** Multiples of the paper's n = 8 for the iteration sweep. */
  sweepStepMultiples: number[];
  /** Members, epochs, images and the suite's budgets on a data set. */
  scale: (dataset: DatasetDescriptor) => ReproductionScale;
}

export const PRESET_NAMES = ['smoke', 'cpu', 'paper'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export const PRESETS: Record<PresetName, Preset> = {
  smoke: {
    name: 'smoke',
    summary: '2 members, 1 epoch, first 1,000 training and 200 test images: checks the pipeline, not the paper',
    lossForms: ['logits', 'clipped-probs'],
    pgdRestarts: 2,
    sweepEps: (d) => d.reproduce.sweepEps.smoke,
    sweepStepMultiples: [1, 2],
    scale: (d) => ({
      members: 2,
      epochs: 1,
      trainLimit: 1000,
      testLimit: 200,
      sweepTestLimit: 200,
      // Budgets cut so the pipeline check stays minutes long; the numbers it gives are not AutoAttack's.
      suite: { testLimit: 200, steps: 10, queries: 100 },
      ...d.reproduce.scale.smoke,
    }),
  },
  cpu: {
    name: 'cpu',
    summary: 'MNIST: 5 members (paper: 10), 3 epochs (paper: 10), full training and test sets, 1,000 test images for sweeps, PGD and transfer, 500 for the worst-case suite; CIFAR-10: sized for ~3 hours, see docs/RESULTS.md',
    lossForms: ['logits', 'clipped-probs'],
    pgdRestarts: 5,
    sweepEps: (d) => d.reproduce.sweepEps.full,
    sweepStepMultiples: [1, 2, 4],
    scale: (d) => ({ members: 5, epochs: d.training.epochs, sweepTestLimit: 1000, suite: { testLimit: 1000, steps: 100, queries: 5000 }, ...d.reproduce.scale.cpu }),
  },
  paper: {
    name: 'paper',
    summary: "the paper's scale: 10 members, 10 epochs MNIST / 25 CIFAR-10, full training and test sets for Tables 2 and 4; 1,000 test images for the checks beyond the paper (sweeps, PGD, transfer, worst-case suite)",
    lossForms: ['logits', 'clipped-probs'],
    pgdRestarts: 10,
    sweepEps: (d) => d.reproduce.sweepEps.full,
    sweepStepMultiples: [1, 2, 4],
    // AutoAttack-sized budgets; on 1,000 images, as RobustBench's quick evaluations and the sweeps here.
    scale: (d) => ({ members: 10, epochs: d.training.epochs, sweepTestLimit: 1000, suite: { testLimit: 1000, steps: 100, queries: 5000 } }),
  },
};

/** e.g. "5 members, 3 epochs, 60,000 training images, 10,000 test images (1,000 for sweeps, 1,000 for the suite)". */
export function describeScale(preset: Preset, dataset: DatasetDescriptor): string {
  const s = preset.scale(dataset);
  const count = (limit: number | undefined, all: number) => Math.min(limit ?? all, all).toLocaleString('en-US');
  const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  return (
    `${dataset.name}: ${plural(s.members, 'member')}, ${plural(s.epochs, 'epoch')}, ${count(s.trainLimit, dataset.sizes.train)} training images, ` +
    `${count(s.testLimit, dataset.sizes.test)} test images (${count(s.sweepTestLimit, dataset.sizes.test)} for sweeps, ` +
    `${count(s.suite.testLimit, dataset.sizes.test)} for the suite: APGD n ${s.suite.steps}, Square ${s.suite.queries} queries)`
  );
}
