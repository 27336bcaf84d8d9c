/**
 * Scales of `ensdef reproduce`. `paper` is the paper's exact scale; `cpu` trims it so MNIST's Tables 2 and 4
 * finish in hours on 2 cores; `smoke` checks the whole pipeline in minutes (what CI runs).
 */
import type { LossForm } from '../attacks/gradients.ts';
import type { DatasetDescriptor } from '../datasets/descriptor.ts';

export interface Preset {
  name: PresetName;
  summary: string;
  /** Ensemble size (single-model defenses always have 1 member). */
  members: number;
  /** Epochs per member on a data set. */
  epochs: (dataset: DatasetDescriptor) => number;
  trainLimit?: number;
  /** Test images for Tables 2 and 4 (undefined: the full test set). */
  testLimit?: number;
  /** Test images for the ε / iteration sweeps, PGD and transfer rows. */
  sweepTestLimit: number;
  lossForms: LossForm[];
  pgdRestarts: number;
  /** The ε values of the sweeps on a data set. */
  sweepEps: (dataset: DatasetDescriptor) => number[];
  /** The worst-case suite on every run: test images (undefined: all), APGD iterations, Square's query budget. */
  suite: { testLimit?: number; steps: number; queries: number };
  /** Multiples of the paper's n = 8 for the iteration sweep. */
  sweepStepMultiples: number[];
}

export const PRESET_NAMES = ['smoke', 'cpu', 'paper'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export const PRESETS: Record<PresetName, Preset> = {
  smoke: {
    name: 'smoke',
    summary: '2 members, 1 epoch, first 1,000 training and 200 test images: checks the pipeline, not the paper',
    members: 2,
    epochs: (d) => d.reproduce.epochs.smoke,
    trainLimit: 1000,
    testLimit: 200,
    sweepTestLimit: 200,
    lossForms: ['logits', 'clipped-probs'],
    pgdRestarts: 2,
    // Budgets cut so the pipeline check stays minutes long; the numbers it gives are not AutoAttack's.
    suite: { testLimit: 200, steps: 10, queries: 100 },
    sweepEps: (d) => d.reproduce.sweepEps.smoke,
    sweepStepMultiples: [1, 2],
  },
  cpu: {
    name: 'cpu',
    summary: '5 members (paper: 10), 3 epochs (paper: 10 MNIST / 25 CIFAR-10), full training set, full test set for Tables 2 and 4, 1,000 test images for sweeps/PGD/transfer',
    members: 5,
    epochs: (d) => d.reproduce.epochs.cpu,
    sweepTestLimit: 1000,
    lossForms: ['logits', 'clipped-probs'],
    pgdRestarts: 5,
    suite: { testLimit: 1000, steps: 100, queries: 5000 },
    sweepEps: (d) => d.reproduce.sweepEps.full,
    sweepStepMultiples: [1, 2, 4],
  },
  paper: {
    name: 'paper',
    summary: "the paper's scale: 10 members, 10 epochs MNIST / 25 CIFAR-10, full training and test sets",
    members: 10,
    epochs: (d) => d.training.epochs,
    sweepTestLimit: 1000,
    lossForms: ['logits', 'clipped-probs'],
    pgdRestarts: 10,
    suite: { steps: 100, queries: 5000 },
    sweepEps: (d) => d.reproduce.sweepEps.full,
    sweepStepMultiples: [1, 2, 4],
  },
};
