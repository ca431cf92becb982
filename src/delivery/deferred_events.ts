/**
 * Backoff, and the deferred events, each waiting on its own backoff: when the server fails one
 * event (a 5xx for data it cannot store, say), that event is deferred while the events behind it
 * go on, so no single event blocks the queue. Kept in memory only: after a restart every pending event is
 * tried again in order. Nothing here drops an event.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { keyOf } from "./event_answer.ts";
import type { RefusalJudge } from "./refusal.ts";
import type { DeliveryJournal, Next } from "./types.ts";

/** First backoff step after a failure; each further failure doubles it. */
export const BACKOFF_BASE_MS = 2_000;
/** Longest backoff step. */
export const BACKOFF_CAP_MS = 5 * 60_000;
/**
 * Longest backoff step while the server cannot be connected to at all (refused, unreachable,
 * no answer to the connection, a name that does not resolve). Such an attempt is the cheapest
 * probe there is (no TLS, no request, nothing for the server's software), so it is made often
 * enough that the backlog follows the server's return within seconds; full jitter still spreads
 * a fleet's returns over the whole step.
 */
export const OUTAGE_BACKOFF_CAP_MS = 10_000;

/**
 * Exponential backoff with full jitter: a delay for the `failures`-th failure in a row, at most
 * `cap` (default {@link BACKOFF_CAP_MS}).
 */
export function backoffDelay(failures: number, random: number, cap = BACKOFF_CAP_MS): number {
  const ceiling = Math.min(cap, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.floor(random * ceiling);
}

/** The deferred events, by key, each with its failures and the monotonic time it may go again. */
export class DeferredEvents {
  #clock: Clock;
  #deferred = new Map<string, { failures: number; until: number }>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** How many events are deferred. */
  get size(): number {
    return this.#deferred.size;
  }

  /** Defers `key` after one more failure; returns how long it waits, in ms. */
  defer(key: string, random: number): number {
    const failures = (this.#deferred.get(key)?.failures ?? 0) + 1;
    const delay = Math.max(BACKOFF_BASE_MS / 2, backoffDelay(failures, random));
    this.#deferred.set(key, { failures, until: this.#clock.monotonic() + delay });
    return delay;
  }

  /** Whether `key` is deferred now. */
  isDeferred(key: string): boolean {
    const deferred = this.#deferred.get(key);
    return deferred !== undefined && deferred.until > this.#clock.monotonic();
  }

  /** The monotonic time the first deferred event may go again, when any is deferred. */
  firstEnd(): number | undefined {
    let first: number | undefined;
    for (const { until } of this.#deferred.values()) first = Math.min(first ?? until, until);
    return first;
  }

  /** Forgets `key` (it was sent or settled). */
  release(key: string): void {
    this.#deferred.delete(key);
  }

  /** Forgets every deferral (a health check passed: try them all again). */
  clear(): void {
    this.#deferred.clear();
  }

  /** Forgets every key not in `pending` (settled meanwhile, rotated away). */
  forgetAllBut(pending: ReadonlySet<string>): void {
    for (const key of this.#deferred.keys()) if (!pending.has(key)) this.#deferred.delete(key);
  }
}

/**
 * The oldest pending entry of `journal` not deferred: the walk costs the deferred events, not
 * the backlog. When every pending event is deferred, the deferrals and suspects of events no
 * longer pending are forgotten and the time the first deferral ends is returned instead.
 */
export function nextToSend(
  journal: DeliveryJournal,
  deferred: DeferredEvents,
  judge: RefusalJudge,
): Next {
  const count = journal.pendingCount;
  if (deferred.size === 0) return { entry: journal.oldestPending(), count };
  const passed = new Set<string>();
  for (const entry of journal.pendingEntries()) {
    const key = keyOf(entry);
    if (!deferred.isDeferred(key)) return { entry, count };
    passed.add(key);
  }
  deferred.forgetAllBut(passed);
  judge.forgetAllBut(passed);
  return { count, wakeAt: deferred.firstEnd() };
}
