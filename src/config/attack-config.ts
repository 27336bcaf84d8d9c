/** Attack defaults per data set (paper section 4, SPEC.md) and their resolution from command-line values. */
import { validateAttack, type AttackName, type AttackSpec, type BimParams, type FgsmParams } from '../attacks/params.ts';
import type { DatasetName } from '../data/dataset.ts';
import { usageError } from '../errors.ts';

export const ATTACK_DEFAULTS: Record<DatasetName, { fgsm: FgsmParams; bim: BimParams }> = {
  mnist: { fgsm: { eps: 0.3 }, bim: { eps: 0.2, alpha: 0.025, steps: 8 } },
  cifar10: { fgsm: { eps: 0.03 }, bim: { eps: 0.02, alpha: 0.0025, steps: 8 } },
};

/**
 * PGD (beyond the paper): BIM's ε and n, R random restarts, and Madry et al.'s step size α = 2.5·ε/n (at
 * most ε). BIM's α = ε/n cannot carry a random start across the ε-ball in n steps: on robust models that
 * made PGD weaker than BIM from x (docs/RESULTS.md, the σ experiment).
 */
export const PGD_DEFAULTS = { restarts: 5, seed: 0, alphaTimesStepsOverEps: 2.5 };

/** Images attacked together: large enough for fast kernels, small enough to keep BIM/PGD memory modest. */
export const ATTACK_BATCH_SIZE = 200;

/** Test images shown in the Figure 1 grid. */
export const FIGURE_IMAGES = 10;

export interface AttackValues {
  eps?: number;
  alpha?: number;
  steps?: number;
  restarts?: number;
  seed: number;
}

function refuse(flag: string, value: number | undefined, attack: AttackName, appliesTo: string): void {
  if (value !== undefined) throw usageError(`${flag} ${value}: --attack ${attack} has no ${flag.slice(2)} (it applies to ${appliesTo} only)`);
}

/**
 * The attack `name` on `dataset` with the given values over the defaults. Without --alpha, BIM's α keeps
 * the paper's ratio α/ε (1/8 on both data sets), so `--eps` alone scales the whole schedule; PGD's is
 * min(ε, 2.5·ε/n).
 */
export function resolveAttackSpec(dataset: DatasetName, name: AttackName, values: AttackValues): AttackSpec {
  const defaults = ATTACK_DEFAULTS[dataset];
  let spec: AttackSpec;
  if (name === 'fgsm') {
    refuse('--alpha', values.alpha, name, 'bim and pgd');
    refuse('--steps', values.steps, name, 'bim and pgd');
    refuse('--restarts', values.restarts, name, 'pgd');
    spec = { name, eps: values.eps ?? defaults.fgsm.eps };
  } else {
    const eps = values.eps ?? defaults.bim.eps;
    const steps = values.steps ?? defaults.bim.steps;
    if (name === 'bim') {
      refuse('--restarts', values.restarts, name, 'pgd');
      // ε / (ε₀/α₀) rather than ε·α₀/ε₀: dividing by the exact ratio 8 keeps α = 0.025 exact at ε = 0.2.
      const alpha = values.alpha ?? (values.eps === undefined ? defaults.bim.alpha : eps / (defaults.bim.eps / defaults.bim.alpha));
      spec = { name, eps, alpha, steps };
    } else {
      const alpha = values.alpha ?? Math.min(eps, (PGD_DEFAULTS.alphaTimesStepsOverEps * eps) / steps);
      spec = { name, eps, alpha, steps, restarts: values.restarts ?? PGD_DEFAULTS.restarts, seed: values.seed };
    }
  }
  validateAttack(spec);
  return spec;
}
