/**
 * How long a reproduction's remaining steps will take here: each step's cost at this machine's measured
 * speed, corrected by how long finished steps of the same kind took against that prediction.
 */
import { formatDuration } from '../run/progress.ts';
import { datasetOf, type Step } from './plan.ts';
import type { MachineSpeed } from './speed.ts';

/** Per data set, step kind and attack: the seconds finished steps took, and what the measured speed predicted for them. */
export type LearnedTimes = Record<string, { seconds: number; predicted: number }>;

/**
 * A step's seconds: its cost at this machine's measured speed (training samples and input gradients per
 * second), times how far finished steps of the same data set, kind and attack were from that prediction —
 * in this sitting or, through the reproduction's state file, an earlier one (the ratio carries to another
 * machine; the speed is measured anew).
 */
export class Eta {
  private readonly observed: LearnedTimes;

  constructor(
    private readonly speeds: Record<string, MachineSpeed>,
    learned: LearnedTimes = {},
  ) {
    this.observed = structuredClone(learned);
  }

  private key(step: Step): string {
    return `${datasetOf(step)}:${step.kind}:${step.kind === 'train' ? '' : step.job.attack?.definition.id ?? 'none'}`;
  }

  private predicted(step: Step): number {
    const speed = this.speeds[datasetOf(step)];
    return step.cost / (step.kind === 'train' ? speed.trainSamplesPerSecond : speed.gradientsPerSecond);
  }

  record(step: Step, seconds: number): void {
    const o = this.observed[this.key(step)] ?? { seconds: 0, predicted: 0 };
    this.observed[this.key(step)] = { seconds: o.seconds + seconds, predicted: o.predicted + this.predicted(step) };
  }

  /** Whether steps like this one have been timed (its estimate is then no longer the nominal cost). */
  learnedFor(step: Step): boolean {
    return (this.observed[this.key(step)]?.predicted ?? 0) > 0;
  }

  seconds(step: Step): number {
    const o = this.observed[this.key(step)];
    return this.predicted(step) * (o && o.predicted > 0 ? o.seconds / o.predicted : 1);
  }

  remaining(steps: Step[]): number {
    return steps.reduce((sum, s) => sum + this.seconds(s), 0);
  }

  learned(): LearnedTimes {
    return structuredClone(this.observed);
  }
}

/** Steps whose cost counts the attack's whole budget though it stops at each image's first success. */
function costIsBound(step: Step): boolean {
  return step.kind === 'attack' && step.job.attack?.definition.costIsBound === true;
}

/** "estimated 3h10m (… of which up to 1h05m …)": the plan's time on this machine, from its measured speed. */
export function describeEstimate(steps: Step[], eta: Eta): string {
  const bounded = steps.filter((s) => costIsBound(s) && !eta.learnedFor(s));
  const total = eta.remaining(steps);
  const bound = bounded.length > 0 ? `, of which up to ${formatDuration(eta.remaining(bounded))} for attacks that stop at each image's first success (counted at their full budget until one has run)` : '';
  return `estimated ${formatDuration(total)}${bound}`;
}

export function describeSpeeds(speeds: Record<string, MachineSpeed>): string {
  return Object.entries(speeds)
    .map(([dataset, s]) => `${dataset} ${Math.round(s.trainSamplesPerSecond)} training samples/s, ${Math.round(s.gradientsPerSecond)} input gradients/s`)
    .join('; ');
}
