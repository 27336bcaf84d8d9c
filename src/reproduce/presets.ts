/**
 * Scales of `ensdef reproduce`. `paper` is the paper's exact scale; `cpu` trims it so MNIST's Tables 2 and 4
 * finish in hours on 2 cores; `smoke` checks the whole pipeline in minutes (what CI runs).
 */
import type { LossForm } from '../attacks/gradients.ts';
import type { DatasetName } from '../data/dataset.ts';

export interface Preset {
  name: PresetName;
  summary: string;
  /** Ensemble size (single-model defenses always have 1 member). */
  members: number;
  epochs: Record<DatasetName, number>;
  trainLimit?: number;
  /** Test images for Tables 2 and 4 (undefined: the full test set). */
  testLimit?: number;
  /** Test images for the ε / iteration sweeps, PGD and transfer rows. */
  sweepTestLimit: number;
  lossForms: LossForm[];
  pgdRestarts: number;
  sweepEps: Record<DatasetName, number[]>;
  /** Multiples of the paper's n = 8 for the iteration sweep. */
  sweepStepMultiples: number[];
}

export const PRESET_NAMES = ['smoke', 'cpu', 'paper'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const SWEEP_EPS: Record<DatasetName, number[]> = {
  mnist: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5],
  cifar10: [0.005, 0.01, 0.02, 0.03, 0.05, 0.1],
};

export const PRESETS: Record<PresetName, Preset> = {
  smoke: {
    name: 'smoke',
    summary: '2 members, 1 epoch, first 1,000 training and 200 test images: checks the pipeline, not the paper',
    members: 2,
    epochs: { mnist: 1, cifar10: 1 },
    trainLimit: 1000,
    testLimit: 200,
    sweepTestLimit: 200,
    lossForms: ['logits', 'clipped-probs'],
    pgdRestarts: 2,
    sweepEps: { mnist: [0.1, 0.3, 0.5], cifar10: [0.01, 0.03, 0.1] },
    sweepStepMultiples: [1, 2],
  },
  cpu: {
    name: 'cpu',
    summary: '5 members (paper: 10), 3 epochs (paper: 10 MNIST / 25 CIFAR-10), full training set, full test set for Tables 2 and 4, 1,000 test images for sweeps/PGD/transfer',
    members: 5,
    epochs: { mnist: 3, cifar10: 5 },
    sweepTestLimit: 1000,
    lossForms: ['logits', 'clipped-probs'],
    pgdRestarts: 5,
    sweepEps: SWEEP_EPS,
    sweepStepMultiples: [1, 2, 4],
  },
  paper: {
    name: 'paper',
    summary: "the paper's scale: 10 members, 10 epochs MNIST / 25 CIFAR-10, full training and test sets",
    members: 10,
    epochs: { mnist: 10, cifar10: 25 },
    sweepTestLimit: 1000,
    lossForms: ['logits', 'clipped-probs'],
    pgdRestarts: 10,
    sweepEps: SWEEP_EPS,
    sweepStepMultiples: [1, 2, 4],
  },
};
