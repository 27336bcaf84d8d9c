/**
 * Methods own their parameters: each is validated with a one-line error naming its flag, takes its default
 * per data set, and survives the Slurm job flags at non-default values; a run's identity (what resume
 * compares) is what it was before methods declared their parameters.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trainFlags } from '../../src/cluster/executor.ts';
import { resolveTrainConfig, trainCommand } from '../../src/commands/train.ts';
import type { TrainConfig } from '../../src/config/train-config.ts';
import { datasetDescriptor, DATASET_NAMES } from '../../src/datasets/registry.ts';
import type { MethodParam } from '../../src/ensembles/method.ts';
import { ParamError, UserError, userMessage } from '../../src/errors.ts';
import { describeMethod, METHOD_PARAMS, methodFlags, methodParams, METHODS, trainConfig, trainedIdentity } from '../../src/training/methods.ts';

/** `ensdef train FLAGS` parsed and resolved as the command does, without training. */
function parseTrain(flags: string[]): TrainConfig {
  const command = trainCommand().exitOverride().action(() => {});
  command.parse(flags, { from: 'user' });
  return resolveTrainConfig(command.opts() as Parameters<typeof resolveTrainConfig>[0]);
}

/** The one line the user reads for a refused flag. */
function refusal(flags: string[]): string {
  try {
    parseTrain(flags);
  } catch (error) {
    assert.ok(error instanceof UserError, String(error));
    return userMessage(error);
  }
  assert.fail(`${flags.join(' ')} was accepted`);
}

/** A valid value other than the default: half the default, or one more for an integer at its minimum. */
function nonDefault(param: MethodParam, dataset: string): number {
  const value = param.default(datasetDescriptor(dataset));
  const half = param.integer ? Math.floor(value / 2) : value / 2;
  return half > param.min || (!param.exclusiveMin && half === param.min && half !== value) ? half : value + (param.integer ? 1 : (param.max - value) / 2);
}

describe('method parameters', () => {
  it('every method parameter is in the registry, once per key', () => {
    const keys = METHODS.flatMap((m) => m.params.map((p) => p.key));
    assert.deepEqual(METHOD_PARAMS.map((p) => p.key).sort(), [...new Set(keys)].sort());
    assert.ok(['noiseSigma', 'rho', 'atEps', 'temperature'].every((key) => keys.includes(key)));
  });

  it('defaults per data set: σ calibrated per data set, the paper’s ρ and T, the paper’s FGSM ε', () => {
    const of = (method: string, dataset: string) => trainConfig({ method, dataset });
    assert.equal(of('gaussian-noise', 'mnist').noiseSigma, 0.1);
    assert.equal(of('gaussian-noise', 'cifar10').noiseSigma, 0.2);
    for (const dataset of DATASET_NAMES) {
      assert.equal(of('adversarial-training', dataset).rho, 0.5);
      assert.equal(of('bagging+adversarial-training', dataset).atEps, datasetDescriptor(dataset).paperAttacks.fgsm.eps);
      assert.equal(of('distillation', dataset).temperature, 10);
    }
    assert.equal(of('adversarial-training', 'mnist').atEps, 0.3);
    assert.equal(of('adversarial-training', 'cifar10').atEps, 0.03);
    assert.deepEqual([0, 1, 2].map((i) => ['atEps', 'atAlpha', 'atSteps'].map((key) => of(['pgd-adversarial-training', 'random-init+pgd-adversarial-training', 'bagging+pgd-adversarial-training'][i], 'mnist')[key])), [[0.3, 0.01, 40], [0.3, 0.01, 40], [0.3, 0.01, 40]]);
    assert.deepEqual(['atEps', 'atAlpha', 'atSteps'].map((key) => of('pgd-adversarial-training', 'cifar10')[key]), [0.03, 0.0075, 7]);
  });

  it('a run records its own method parameters only, after the common fields', () => {
    const config = trainConfig({ method: 'adversarial-training', dataset: 'mnist', trainLimit: 10, dataDir: 'd' });
    assert.deepEqual(Object.keys(config), ['dataset', 'method', 'members', 'epochs', 'batchSize', 'learningRate', 'seed', 'trainLimit', 'rho', 'atEps', 'dataDir']);
    assert.deepEqual(Object.keys(trainConfig({ method: 'bagging', dataset: 'mnist' })), ['dataset', 'method', 'members', 'epochs', 'batchSize', 'learningRate', 'seed']);
  });

  it("invalid values and a parameter the method does not take: one line naming the flag", () => {
    assert.equal(refusal(['--method', 'adversarial-training', '--rho', '1.5']), "--rho: '1.5' is not a number in [0, 1]");
    assert.equal(refusal(['--method', 'distillation', '--temperature', '0']), "--temperature: '0' is not a number in (0, 1000]");
    assert.equal(refusal(['--method', 'gaussian-noise', '--noise-sigma', 'x']), "--noise-sigma: 'x' is not a number in [0, 10]");
    assert.equal(refusal(['--method', 'bagging', '--at-eps', '0.1']), '--at-eps: --method bagging has no ε (it applies to adversarial-training, bagging+adversarial-training, pgd-adversarial-training, random-init+pgd-adversarial-training, bagging+pgd-adversarial-training, ensemble-pgd-adversarial-training only)');
    // The core refuses what a programmatic caller passes, under the parameter's name.
    assert.throws(() => trainConfig({ method: 'adversarial-training', dataset: 'mnist', rho: -1 }), (e: unknown) => e instanceof ParamError && e.param === 'rho' && /ρ must be a number in \[0, 1\] \(got -1\)/.test(e.message));
    assert.throws(() => trainConfig({ method: 'distillation', dataset: 'mnist', temperature: Number.NaN }), (e: unknown) => e instanceof ParamError && e.param === 'temperature');
    assert.equal(refusal(['--method', 'pgd-adversarial-training', '--at-steps', '2.5']), "--at-steps: '2.5' is not an integer in [1, 1000]");
    // A check across parameters, after each is valid alone.
    assert.equal(refusal(['--method', 'bagging+pgd-adversarial-training', '--dataset', 'cifar10', '--at-alpha', '0.05']), '--at-alpha: the step size must satisfy 0 < α ≤ ε (got α = 0.05, ε = 0.03); pass a smaller --at-alpha or a larger --at-eps');
  });

  it('every method parameter at a non-default value survives the Slurm job flags', () => {
    let checked = 0;
    for (const method of METHODS) {
      for (const dataset of DATASET_NAMES) {
        const given = Object.fromEntries(method.params.map((p) => [p.key, nonDefault(p, dataset)]));
        const config = trainConfig({ method: method.name, dataset, members: 1, epochs: 2, seed: 3, trainLimit: 50, ...given });
        for (const param of method.params) assert.notEqual(config[param.key], param.default(datasetDescriptor(dataset)), `${method.name} ${param.key}`);
        assert.deepEqual(JSON.parse(JSON.stringify(parseTrain(trainFlags(config)))), JSON.parse(JSON.stringify(config)), `${method.name} on ${dataset}`);
        checked += method.params.length;
      }
    }
    assert.ok(checked >= 2 * METHOD_PARAMS.length);
    assert.deepEqual(methodFlags(trainConfig({ method: 'adversarial-training', dataset: 'cifar10', rho: 0.25 })), ['--rho', '0.25', '--at-eps', '0.03']);
  });

  it("a run's identity is unchanged: a manifest from before (every method's parameters recorded) resumes", () => {
    // What ensdef wrote before methods declared their parameters: all four, for every method.
    const old = (method: string, members: number): TrainConfig => ({
      dataset: 'mnist', method, members, epochs: 3, batchSize: 128, learningRate: 0.001, seed: 0, testLimit: 1000,
      noiseSigma: 0.1, rho: 0.5, atEps: 0.3, temperature: 10, dataDir: '/data',
    });
    const before = ['single', 'random-init', 'mixed-models', 'bagging', 'gaussian-noise', 'adversarial-training', 'distillation', 'bagging+adversarial-training', 'bagging+distillation'];
    for (const method of METHODS.filter((m) => before.includes(m.name))) {
      const members = method.size === 'ensemble' ? 5 : 1;
      const now = trainConfig({ method: method.name, dataset: 'mnist', members, epochs: 3, testLimit: 1000, dataDir: '/data' });
      assert.equal(JSON.stringify(trainedIdentity(now)), JSON.stringify(trainedIdentity(old(method.name, members))), method.name);
    }
    // The exact string a member's checkpoint holds (models/train-state.ts compares it as written).
    assert.equal(
      JSON.stringify(trainedIdentity(old('bagging+adversarial-training', 5))),
      '{"dataset":"mnist","method":"bagging+adversarial-training","members":5,"epochs":3,"batchSize":128,"learningRate":0.001,"seed":0,"rho":0.5,"atEps":0.3}',
    );
  });

  it('a parameter added after a run was trained reads as what the run did: the ramp of an older PGD-trained run is 0, not the default 1', () => {
    const older = Object.fromEntries(Object.entries(trainConfig({ method: 'pgd-adversarial-training', dataset: 'mnist' })).filter(([key]) => key !== 'atRampEpochs')) as TrainConfig;
    assert.equal(trainConfig({ method: 'pgd-adversarial-training', dataset: 'mnist' }).atRampEpochs, 1);
    assert.equal(methodParams(older).atRampEpochs, 0);
    assert.equal(describeMethod(older), 'pgd-adversarial-training (ramp 0)');
    assert.deepEqual(methodFlags(older).slice(-2), ['--at-ramp-epochs', '0'], 'a Slurm job continuing it trains as it did');
    assert.equal(describeMethod(trainConfig({ method: 'pgd-adversarial-training', dataset: 'mnist', atRampEpochs: 2 })), 'pgd-adversarial-training (ramp 2)');
  });

  it('the report names a run’s method with the parameters it changed from their defaults', () => {
    assert.equal(describeMethod(trainConfig({ method: 'gaussian-noise', dataset: 'mnist' })), 'gaussian-noise');
    assert.equal(describeMethod(trainConfig({ method: 'gaussian-noise', dataset: 'mnist', noiseSigma: 0.3 })), 'gaussian-noise (σ 0.3)');
    assert.equal(describeMethod(trainConfig({ method: 'adversarial-training', dataset: 'cifar10', rho: 0.3, atEps: 0.03 })), 'adversarial-training (ρ 0.3)');
  });
});
