/**
 * Progress output: a live, self-overwriting line on a terminal; plain lines when piped, and on a terminal
 * shared by several worker processes (`lines: true`), whose live lines would overwrite each other.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, MembersEta, Progress } from '../../src/run/progress.ts';

/** A stream that records what is written, claiming to be a terminal or not. */
function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: string[] } {
  const written: string[] = [];
  const stream = { isTTY, write: (chunk: string) => written.push(chunk) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

test('on a terminal the line is redrawn in place', () => {
  const { stream, written } = fakeStream(true);
  const bar = new Progress('member 1/2', 'samples', { stream });
  bar.update({ done: 50, total: 100 }, true);
  bar.finish();
  assert.match(written[0], /^\r\x1b\[Kmember 1\/2 \[#{10}\.{10}\]  50% 50\/100 /);
  assert.equal(written[1], '\r\x1b[K');
});

test('piped, or with lines: true on a terminal, every update is a plain line and finish() writes nothing', () => {
  for (const [isTTY, lines] of [[false, false], [true, true]] as const) {
    const { stream, written } = fakeStream(isTTY);
    const bar = new Progress('member 2/2', 'samples', { stream, lines });
    bar.update({ done: 25, total: 100, detail: 'train epoch 1/3 loss 0.5000' }, true);
    bar.finish();
    assert.equal(written.length, 1);
    assert.match(written[0], /^member 2\/2 \[#{5}\.{15}\]  25% 25\/100 \d+ samples\/s ETA \S+ train epoch 1\/3 loss 0\.5000\n$/);
    assert.ok(!written[0].includes('\r'));
  }
});

test('durations read as h/m/s', () => {
  assert.deepEqual([formatDuration(59.4), formatDuration(61), formatDuration(3 * 3600 + 125), formatDuration(Infinity)], ['59s', '1m01s', '3h02m', '?']);
});

test('a resumed run: its rate and ETA count only the work done since this process started', async () => {
  const { stream, written } = fakeStream(false);
  const bar = new Progress('member 1/3', 'samples', { stream });
  bar.update({ done: 150_000, total: 500_000, initial: 150_000 }, true);
  assert.match(written[0], / 150000\/500000 0 samples\/s ETA \?\n$/);
  await new Promise((resolve) => setTimeout(resolve, 100));
  bar.update({ done: 150_100, total: 500_000, initial: 150_000 }, true);
  // 100 samples in ≥ 0.1 s: at most 1,000 samples/s, where counting the resumed 150,000 would give ≥ 1.5 million.
  const rate = Number(/ (\d+) samples\/s /.exec(written[1])![1]);
  assert.ok(rate > 0 && rate <= 1000, written[1]);
  assert.ok(bar.rate(150_100, 150_000) <= 1000);
});

/** A clock the test moves by hand, in seconds. */
function handClock(): { now: () => number; to: (t: number) => void } {
  let t = 0;
  return { now: () => t, to: (value: number) => void (t = value) };
}

test('members that started together finish together: the first one done leaves no time for the others', () => {
  // Three members at once on 2 cores: each took the same 57 minutes, and a CIFAR-10 run printed ETA 1h54m after the first.
  const clock = handClock();
  const eta = new MembersEta(3, 3, clock.now);
  for (const index of [0, 1, 2]) eta.start(index);
  clock.to(3444);
  eta.finish(0);
  assert.equal(eta.finished, 1);
  assert.equal(eta.remainingSeconds(), 0);
  clock.to(3450);
  eta.finish(2);
  assert.equal(eta.remainingSeconds(), 0);
});

test('one process: the members left take one member time each', () => {
  const clock = handClock();
  const eta = new MembersEta(1, 4, clock.now);
  eta.start(0);
  clock.to(10);
  eta.finish(0);
  assert.equal(eta.remainingSeconds(), 30);
});

test('more members than processes go in rounds, each started when a process frees', () => {
  // 5 members on 2 processes of 10 s each: rounds end at 10, 20 and 30 s.
  const clock = handClock();
  const eta = new MembersEta(2, 5, clock.now);
  eta.start(0);
  eta.start(1);
  clock.to(10);
  eta.finish(0);
  assert.equal(eta.remainingSeconds(), 20);
  eta.start(2);
  clock.to(12);
  eta.finish(1);
  // Members now take 11 s on average: member 2 ends at 21, member 3 (started now) at 23, and member 4, started
  // when member 2's process frees, at 32.
  eta.start(3);
  assert.equal(eta.remainingSeconds(), 32 - 12);
});
