import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decimalsFor, wilsonInterval } from '../../src/eval/intervals.ts';

describe('wilsonInterval', () => {
  it('matches a hand-computed case: 431 of 1,000 correct', () => {
    // z = 1.96: z² = 3.8416; centre = (0.431 + 3.8416/2000) / (1 + 3.8416/1000) = 0.432913 / 1.0038416 = 0.431256;
    // half = 1.96 / 1.0038416 · √(0.431·0.569/1000 + 3.8416/4,000,000) = 1.952499 · √0.000246200 = 0.030636.
    const [low, high] = wilsonInterval(0.431, 1000);
    assert.ok(Math.abs(low - 0.40062) < 5e-5, `low ${low}`);
    assert.ok(Math.abs(high - 0.46189) < 5e-5, `high ${high}`);
  });

  it('does not collapse at 0 or 1 and stays inside [0, 1]', () => {
    const [low0, high0] = wilsonInterval(0, 300);
    assert.ok(low0 >= 0 && low0 < 1e-12, `low ${low0}`);
    // 0 of n: the upper bound is z² / (n + z²).
    assert.ok(Math.abs(high0 - 3.8415 / (300 + 3.8415)) < 1e-4, `high ${high0}`);
    const [low1, high1] = wilsonInterval(1, 300);
    assert.ok(Math.abs(low1 - 300 / (300 + 3.8415)) < 1e-4, `low ${low1}`);
    assert.ok(high1 <= 1 && high1 > 1 - 1e-12, `high ${high1}`);
  });

  it('narrows with more images', () => {
    const width = (n: number) => wilsonInterval(0.5, n)[1] - wilsonInterval(0.5, n)[0];
    assert.ok(width(10000) < width(1000) && width(1000) < width(100));
  });

  it('refuses n = 0', () => {
    assert.throws(() => wilsonInterval(0.5, 0));
  });
});

describe('decimalsFor', () => {
  it('one image is one unit of the last printed decimal, or less', () => {
    assert.deepEqual([10, 100, 200, 300, 1000, 10000].map(decimalsFor), [1, 2, 3, 3, 3, 4]);
  });
});
