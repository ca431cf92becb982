/**
 * The one clock of the agent. Every wait, timer and deadline in `src/` reads the monotonic
 * clock (`monotonic()`, milliseconds that never step back or jump when the wall clock is set);
 * the wall clock (`wallNow()`) is read only for what a person reads: an event's timestamp, a
 * time in status.json or a log line. This module is the only one in `src/` that calls
 * `Date.now`, `performance.now`, `setTimeout` or `setInterval`; tests inject a `Clock` of their
 * own to drive retries, backoff and intervals without sleeping.
 *
 * @module
 */

/** The longest delay a Deno timer takes (2^31 - 1 ms, about 24.8 days); longer ones are clamped. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer started by `Clock.after` or `Clock.every`; `cancel` is idempotent. */
export interface Timer {
  cancel(): void;
}

/** Time as the agent sees it (injected in tests). */
export interface Clock {
  /** Milliseconds on a monotonic clock: for waits, deadlines and durations only. */
  monotonic(): number;
  /** The wall clock, in milliseconds since the Unix epoch: for timestamps people read only. */
  wallNow(): number;
  /** Resolves after `ms` (clamped to [0, MAX_TIMER_MS]), or early when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` once after `ms` (clamped). */
  after(ms: number, fn: () => void): Timer;
  /** Calls `fn` every `ms` (clamped, at least 1 ms) until cancelled. */
  every(ms: number, fn: () => void): Timer;
  /** A number in [0, 1), for jitter. */
  random(): number;
}

/** Clamps a delay to what a timer accepts: NaN and negatives become 0, huge values the maximum. */
export function clampDelay(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(Math.ceil(ms), MAX_TIMER_MS);
}

/** The real clock: `performance.now()` for monotonic time, `Date.now()` for the wall clock. */
export const systemClock: Clock = {
  monotonic: () => performance.now(),
  wallNow: () => Date.now(),
  random: () => Math.random(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, clampDelay(ms));
      signal?.addEventListener("abort", done, { once: true });
    });
  },
  after(ms: number, fn: () => void): Timer {
    const id = setTimeout(fn, clampDelay(ms));
    return { cancel: () => clearTimeout(id) };
  },
  every(ms: number, fn: () => void): Timer {
    const id = setInterval(fn, Math.max(1, clampDelay(ms)));
    return { cancel: () => clearInterval(id) };
  },
};

/**
 * Runs a long wait as a chain of clamped timers, so a wait longer than MAX_TIMER_MS neither
 * overflows (Deno fires an overflowing timer at once) nor needs a caller to split it.
 */
export async function sleepUntil(
  clock: Clock,
  deadline: number,
  signal?: AbortSignal,
): Promise<void> {
  while (!signal?.aborted) {
    const left = deadline - clock.monotonic();
    if (left <= 0) return;
    await clock.sleep(Math.min(left, MAX_TIMER_MS), signal);
  }
}
