/**
 * How much scripts/bench.ts measures: the full plan, the `--quick` one, and the constants its
 * measurements and its report share.
 *
 * @module
 */

/** The path the agent posts events to. */
export const EVENT_PATH = "/api/log_event";

/** A server's rate limit: `limit` requests per `windowMs`. */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

/**
 * The rate limits of the rate-limited drains: the server's default (which the agent assumes:
 * no 429 expected) and a lower one (which the agent learns from its first 429: one expected).
 */
export const RATE_LIMITS: Readonly<Record<"default" | "lower", RateLimit>> = {
  default: { limit: 60, windowMs: 60_000 },
  lower: { limit: 20, windowMs: 10_000 },
};

/**
 * Unmeasured events before each latency run: the first opens the connection, the next let V8
 * compile the hot path (without them a fresh process's p99 is mostly JIT warm-up).
 */
export const LATENCY_WARM_UP = 50;

/** How much each measurement does. */
export interface Plan {
  idleMs: number;
  idlePairs: number;
  startRuns: number;
  latencyEvents: number;
  latencyRuns: number;
  drainEvents: number;
  drainRuns: number;
  limitedEvents: number;
  limitedRuns: number;
  journalOps: number;
  journalRuns: number;
}

/** `deno task bench`: a few minutes. */
export const FULL: Plan = {
  idleMs: 60_000,
  idlePairs: 3,
  startRuns: 7,
  latencyEvents: 1_000,
  latencyRuns: 3,
  drainEvents: 10_000,
  drainRuns: 3,
  limitedEvents: 150,
  limitedRuns: 3,
  journalOps: 2_000,
  journalRuns: 5,
};

/** `--quick`: a smoke run; figures are rough. */
export const QUICK: Plan = {
  idleMs: 10_000,
  idlePairs: 3,
  startRuns: 3,
  latencyEvents: 100,
  latencyRuns: 3,
  drainEvents: 1_000,
  drainRuns: 3,
  limitedEvents: 90,
  limitedRuns: 2,
  journalOps: 300,
  journalRuns: 3,
};

/** A rate-limited drain's bound in seconds: events / limit × window. */
export function limitedBoundSeconds(plan: Plan, rate: RateLimit): number {
  return plan.limitedEvents / rate.limit * rate.windowMs / 1000;
}
