/**
 * A clock for tests that moves only when told: timers fire during {@link ManualClock.advance},
 * in the order of their due times.
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

/** Virtual time: monotonic from 0, wall clock from `wallStart`. */
export class ManualClock implements Clock {
  #now = 0;
  #wallStart: number;
  #timers: Pending[] = [];

  constructor(wallStart = Date.UTC(2026, 10, 25, 12, 0, 0)) {
    this.#wallStart = wallStart;
  }

  monotonic(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#wallStart + this.#now;
  }

  random(): number {
    return 0.5;
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = this.after(ms, resolve);
      signal?.addEventListener("abort", () => {
        timer.cancel();
        resolve();
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
    while (true) {
      const next = this.#timers.filter((t) => !t.cancelled && t.due <= end)
        .sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.#now = next.due;
      if (next.every !== undefined) next.due += next.every;
      else next.cancelled = true;
      next.fn();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    this.#now = end;
    this.#timers = this.#timers.filter((t) => !t.cancelled);
  }

  #add(ms: number, every: number | undefined, fn: () => void): Timer {
    const pending: Pending = { due: this.#now + Math.max(0, ms), every, fn, cancelled: false };
    this.#timers.push(pending);
    return { cancel: () => pending.cancelled = true };
  }
}
