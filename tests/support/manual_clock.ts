/**
 * The one clock of the tests: it moves only when told. Timers fire during
 * {@link ManualClock.advance} (or {@link ManualClock.advanceSync}), in the order of their due
 * times. A sleep waits for them likewise, or, with `autoSleep`, passes at once and moves time on
 * by its length (timers then fire only on an advance). Every sleep's length is kept in `sleeps`;
 * `random()` hands out the values queued in `randoms`, then 0.5.
 *
 * @module
 */
import type { Clock, Timer } from "../../src/clock.ts";

interface Pending {
  due: number;
  every: number | undefined;
  fn: () => void;
  cancelled: boolean;
}

/** Virtual time: monotonic from `monotonicStart`, wall clock from `wallStart`. */
export class ManualClock implements Clock {
  #now: number;
  #monotonicStart: number;
  #wallStart: number;
  #timers: Pending[] = [];
  #sleeping = 0;
  /** The length of every sleep asked for, in order. */
  sleeps: number[] = [];
  /** The values `random()` returns next (then 0.5). */
  randoms: number[] = [];
  /** Sleeps pass at once, moving time on by their length. */
  autoSleep = false;

  constructor(wallStart = Date.UTC(2026, 10, 25, 12, 0, 0), monotonicStart = 0) {
    this.#wallStart = wallStart;
    this.#monotonicStart = monotonicStart;
    this.#now = monotonicStart;
  }

  monotonic(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#wallStart + this.#now - this.#monotonicStart;
  }

  random(): number {
    return this.randoms.shift() ?? 0.5;
  }

  /** Timers not yet fired or cancelled (sleeps included). */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Sleeps that wait for an advance. */
  get waiting(): number {
    return this.#sleeping;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (this.autoSleep) {
      this.#now += ms;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      this.#sleeping++;
      const done = () => {
        this.#sleeping--;
        resolve();
      };
      const timer = this.after(ms, done);
      signal?.addEventListener("abort", () => {
        timer.cancel();
        done();
      }, { once: true });
    });
  }

  after(ms: number, fn: () => void): Timer {
    return this.#add(ms, undefined, fn);
  }

  every(ms: number, fn: () => void): Timer {
    return this.#add(ms, Math.max(1, ms), fn);
  }

  /** Moves time forward by `ms`, firing the timers due meanwhile (and the microtasks they start). */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (let next = this.#fireNext(end); next; next = this.#fireNext(end)) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    this.#end(end);
  }

  /**
   * Moves time forward by `ms`, firing the timers due meanwhile at once, one after the other;
   * what they start runs after the call.
   */
  advanceSync(ms: number): void {
    const end = this.#now + ms;
    while (this.#fireNext(end));
    this.#end(end);
  }

  /** Fires the first timer due by `end`; false when none is. */
  #fireNext(end: number): boolean {
    const next = this.#timers.filter((t) => !t.cancelled && t.due <= end)
      .sort((a, b) => a.due - b.due)[0];
    if (!next) return false;
    this.#now = next.due;
    if (next.every !== undefined) next.due += next.every;
    else next.cancelled = true;
    next.fn();
    return true;
  }

  #end(end: number): void {
    this.#now = end;
    this.#timers = this.#timers.filter((t) => !t.cancelled);
  }

  #add(ms: number, every: number | undefined, fn: () => void): Timer {
    const pending: Pending = { due: this.#now + Math.max(0, ms), every, fn, cancelled: false };
    this.#timers.push(pending);
    return { cancel: () => pending.cancelled = true };
  }
}
