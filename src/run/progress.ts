/**
 * Progress for long work: a live line on a terminal, or a plain line every ~10 s when piped (CI logs).
 * Always written to stderr so stdout stays clean for results.
 */
export interface ProgressSnapshot {
  done: number;
  total: number;
  /** Work done before this process started (a resumed checkpoint's), left out of the rate and so of the ETA. */
  initial?: number;
  /** Extra fields shown after the counters, e.g. "loss 0.213". */
  detail?: string;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export class Progress {
  private readonly start = performance.now();
  private lastPrint = 0;
  private readonly live: boolean;
  private readonly stream: NodeJS.WriteStream;

  /**
   * `lines: true` prints plain lines even on a terminal: several worker processes share one terminal, and
   * their live lines would overwrite each other.
   */
  constructor(
    private readonly label: string,
    private readonly unit: string,
    { lines = false, stream = process.stderr }: { lines?: boolean; stream?: NodeJS.WriteStream } = {},
  ) {
    this.stream = stream;
    this.live = !lines && Boolean(stream.isTTY);
  }

  elapsedSeconds(): number {
    return (performance.now() - this.start) / 1000;
  }

  rate(done: number, initial = 0): number {
    return (done - initial) / Math.max(this.elapsedSeconds(), 1e-9);
  }

  update({ done, total, initial = 0, detail }: ProgressSnapshot, force = false): void {
    const now = performance.now();
    if (!force && now - this.lastPrint < (this.live ? 250 : 10000)) return;
    this.lastPrint = now;
    const rate = this.rate(done, initial);
    const eta = rate > 0 ? (total - done) / rate : Infinity;
    const pct = total > 0 ? ((100 * done) / total).toFixed(0).padStart(3) : '  ?';
    const width = 20;
    const filled = total > 0 ? Math.round((width * done) / total) : 0;
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const line = `${this.label} ${bar} ${pct}% ${done}/${total} ${rate.toFixed(0)} ${this.unit}/s ETA ${formatDuration(eta)}${detail ? ` ${detail}` : ''}`;
    if (this.live) this.stream.write(`\r\x1b[K${line}`);
    else this.stream.write(`${line}\n`);
  }

  /** A line of its own (e.g. "resuming after epoch 2"), above the live line if there is one. */
  note(line: string): void {
    this.stream.write(this.live ? `\r\x1b[K${line}\n` : `${line}\n`);
  }

  /** Clears the live line; the caller prints its own summary. */
  finish(): void {
    if (this.live) this.stream.write('\r\x1b[K');
  }
}

/**
 * When a run's last member will be trained, from the members finished so far: each takes about as long as
 * the finished ones took from their own start, so a member still running ends that long after it started
 * and one not started yet waits for the first process to free. Members that started together finish
 * together: the rate of finished members over elapsed time would count them as if they had run one after another.
 */
export class MembersEta {
  private readonly started = new Map<number, number>();
  private readonly durations: number[] = [];

  /** `processes`: how many members train at once; `queued`: how many have not started. */
  constructor(
    private readonly processes: number,
    private queued: number,
    private readonly now: () => number = () => performance.now() / 1000,
  ) {}

  start(index: number): void {
    this.started.set(index, this.now());
    this.queued = Math.max(0, this.queued - 1);
  }

  finish(index: number): void {
    this.durations.push(this.now() - this.started.get(index)!);
    this.started.delete(index);
  }

  get finished(): number {
    return this.durations.length;
  }

  /** Seconds until the last member is done (needs one finished member). */
  remainingSeconds(): number {
    const now = this.now();
    const member = this.durations.reduce((a, b) => a + b, 0) / this.durations.length;
    const free = [...this.started.values()].map((since) => Math.max(now, since + member));
    while (free.length < this.processes) free.push(now);
    for (let i = 0; i < this.queued; i++) {
      free.sort((a, b) => a - b);
      free[0] += member;
    }
    return Math.max(now, ...free) - now;
  }
}
