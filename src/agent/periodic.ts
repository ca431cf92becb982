/**
 * The agent's periodic tasks (the health check interval, the IP refreshes): named repeating
 * timers on the agent's clock, replaced when config.ini changes their interval.
 *
 * @module
 */
import type { Clock, Timer } from "../clock.ts";

/** Named repeating tasks. */
export class PeriodicTasks {
  #clock: Clock;
  #timers = new Map<string, Timer>();
  #stopped = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Runs `task` every `ms`, replacing the task of that name; `ms <= 0` only cancels it. */
  every(name: string, ms: number, task: () => void): void {
    this.cancel(name);
    if (ms > 0 && !this.#stopped) this.#timers.set(name, this.#clock.every(ms, task));
  }

  /** Cancels the task of that name, if any. */
  cancel(name: string): void {
    this.#timers.get(name)?.cancel();
    this.#timers.delete(name);
  }

  /** Cancels every task; later ones are not started. */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers.values()) timer.cancel();
    this.#timers.clear();
  }
}
