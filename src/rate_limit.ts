/**
 * The server's rate limit as delivery sees it: reading `X-RateLimit-*`, `Retry-After` and `Date`
 * headers, learning where the server's fixed window really ends, and pacing requests so the
 * window's budget is spent without a 429.
 *
 * Time: the headers carry the server's wall clock (Unix seconds, HTTP dates). They are compared
 * with a wall clock only to turn them into a duration at once; every deadline kept here is on
 * the agent's monotonic clock, so setting the system clock never stretches or cuts a wait.
 *
 * @module
 */
import type { HttpResponse } from "./transport.ts";

/**
 * Added to every wait for a rate-limit reset: the reset and the server's Date header are whole
 * seconds, so the window may really end up to a second after the reset the server announces.
 */
export const RESET_MARGIN_MS = 1_000;
/** Wait after a 429 whose reset is already past (or missing): short, but never hammering. */
export const MIN_RATE_LIMIT_WAIT_MS = 1_000;
/** Longest wait a rate-limit answer can impose (guards against absurd headers). */
export const MAX_RATE_LIMIT_WAIT_MS = 60 * 60_000;
/** Added to a learned window end, for timer and clock granularity. */
export const WINDOW_END_MARGIN_MS = 20;

/**
 * The server's current time in ms, from its Date header, or `wallNow` when it has none. Used so
 * that a reset announced in the server's clock is turned into a wait, whatever the local skew.
 */
function serverNow(response: HttpResponse, wallNow: number): number {
  const date = response.headers["date"];
  if (date) {
    const parsed = Date.parse(date);
    if (!Number.isNaN(parsed)) return parsed;
  }
  return wallNow;
}

/**
 * How long until the rate window of `response` ends, from X-RateLimit-Reset (Unix seconds) or
 * Retry-After (seconds or an HTTP date), measured against the server's Date header (or the local
 * wall clock `wallNow`, in ms since the epoch, when there is none). Undefined when the response
 * says neither.
 */
export function rateLimitResetWait(response: HttpResponse, wallNow: number): number | undefined {
  const reference = serverNow(response, wallNow);
  const reset = Number(response.headers["x-ratelimit-reset"]);
  let wait: number | undefined;
  if (response.headers["x-ratelimit-reset"] !== undefined && Number.isFinite(reset)) {
    wait = reset * 1000 - reference + RESET_MARGIN_MS;
  } else {
    const retryAfter = response.headers["retry-after"];
    if (retryAfter !== undefined) {
      const seconds = Number(retryAfter);
      if (retryAfter.trim() !== "" && Number.isFinite(seconds)) {
        wait = seconds * 1000;
      } else if (!Number.isNaN(Date.parse(retryAfter))) {
        wait = Date.parse(retryAfter) - reference + RESET_MARGIN_MS;
      }
    }
  }
  if (wait === undefined) return undefined;
  return Math.min(Math.max(wait, 0), MAX_RATE_LIMIT_WAIT_MS);
}

/** When a request went and its answer came. */
export interface AnswerTiming {
  /** Monotonic ms when the request was sent. */
  sentAt: number;
  /** Monotonic ms when the answer came. */
  receivedAt: number;
  /** The wall clock (ms since the epoch) when the answer came, to read X-RateLimit-Reset. */
  wallNow: number;
}

/**
 * Learns where the server's fixed rate window really ends, on the local monotonic clock.
 *
 * The reference server starts a window at the first request it counts and announces its end in
 * `X-RateLimit-Reset` rounded DOWN to the second, so the true end E lies in [reset, reset + 1 s).
 * Waiting for reset + 1 s is always safe but costs up to a second per window (20% of a 5 s
 * window). The first request of a window, sent at `sentAt` and answered at `receivedAt`, was
 * counted at some T0 between the two, and E = T0 + W, so the window length W lies in
 * (reset - receivedAt, reset + 1 s - sentAt]. Servers configure W in whole seconds; when exactly
 * one whole second fits the bounds (intersected over windows), that is W, and the current window
 * has ended by the arrival of its first answer + W. This holds when the server's clock agrees
 * with ours; when it does not, the first 429 turns the estimate off for good and the safe rule
 * applies (so never more than one 429 per window).
 *
 * The reset is read against the wall clock at the answer (`reset - wallNow` is how long the
 * window has left, a duration); the window's start and end are kept on the monotonic clock.
 */
export class RateWindowEstimator {
  #start: number | undefined;
  #low = -Infinity;
  #high = Infinity;
  #trusted = true;

  /** Notes an answer to a request made at `timing`. */
  observe(response: HttpResponse, timing: AnswerTiming): void {
    const limit = Number(response.headers["x-ratelimit-limit"]);
    const remaining = Number(response.headers["x-ratelimit-remaining"]);
    const reset = Number(response.headers["x-ratelimit-reset"]);
    if (![limit, remaining, reset].every(Number.isFinite) || response.status === 429) return;
    if (remaining !== limit - 1) return; // not the first request of a window
    const left = reset * 1000 - timing.wallNow; // the window's announced rest, at the answer
    const low = left;
    const high = left + 1000 + (timing.receivedAt - timing.sentAt);
    if (high <= 0) return; // nonsense: the window would already be over
    // The window began when the server counted the request, at the latest when its answer came.
    this.#start = timing.receivedAt;
    if (low > this.#high || high < this.#low) {
      // The window length or the clocks changed: start learning again.
      this.#low = low;
      this.#high = high;
    } else {
      this.#low = Math.max(this.#low, low);
      this.#high = Math.min(this.#high, high);
    }
  }

  /** The window length when the bounds admit exactly one whole number of seconds. */
  windowLength(): number | undefined {
    const first = Math.max(1000, Math.floor(this.#low / 1000) * 1000 + 1000);
    if (first > this.#high) return undefined;
    return first + 1000 > this.#high ? first : undefined;
  }

  /** The monotonic time by which the current window has ended, when it can be told. */
  windowEnd(): number | undefined {
    const length = this.windowLength();
    if (!this.#trusted || this.#start === undefined || length === undefined) return undefined;
    return this.#start + length + WINDOW_END_MARGIN_MS;
  }

  /** A 429 came: the clocks or the window do not behave as assumed; stop estimating. */
  distrust(): void {
    this.#trusted = false;
  }
}

/**
 * Paces requests by the server's rate limit: holds them until the window ends when its budget
 * is spent (proactively, so no 429 is needed), or for the wait a 429 imposes.
 */
export class RatePacer {
  #window = new RateWindowEstimator();
  /** Monotonic time before which no request may go. */
  #until: number | undefined;

  /** The monotonic time before which no request may go, if any was set. */
  get until(): number | undefined {
    return this.#until;
  }

  /**
   * Notes an answer. When it says the window's budget is spent, nothing goes before the window
   * ends: the learned end when there is one (never later than the safe rule), else the announced
   * reset plus its margin. Returns that wait in ms from the answer, or undefined when there is none.
   */
  observe(response: HttpResponse, timing: AnswerTiming): number | undefined {
    this.#window.observe(response, timing);
    const remaining = response.headers["x-ratelimit-remaining"];
    if (remaining === undefined || remaining.trim() === "" || Number(remaining) > 0) return;
    const safeWait = rateLimitResetWait(response, timing.wallNow);
    if (safeWait === undefined) return;
    const now = timing.receivedAt;
    const learned = this.#window.windowEnd();
    const until = learned === undefined
      ? now + safeWait
      : Math.max(now, Math.min(learned, now + safeWait));
    this.#hold(until);
    return until - now;
  }

  /** A 429 came at monotonic `now`: wait `waitMs`, and stop trusting the learned window. */
  limited(now: number, waitMs: number): void {
    this.#window.distrust();
    this.#hold(now + waitMs);
  }

  #hold(until: number): void {
    this.#until = Math.max(this.#until ?? 0, until);
  }
}
