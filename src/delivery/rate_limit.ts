/**
 * The server's rate limit as delivery keeps to it.
 *
 * The server (docs/server-contract.md, "The rate limit") allows `limit` requests per client and path in a fixed
 * window of `window` seconds that starts at the first request it counts, and says so **only in
 * its 429**: `X-RateLimit-Limit`, `X-RateLimit-Remaining` (0) and `X-RateLimit-Reset` (Unix
 * seconds, rounded down), with the body "Rate limit of N requests per S seconds exceeded". No
 * other answer carries a header, so a client learns nothing from a 201.
 *
 * So the agent keeps the count itself: it assumes the server's default (60 per 60 s) until a
 * 429 says otherwise, counts every request it sends to the event path in its own copy of the
 * server's window (not one that failed before a byte of it left: the server never saw it), and holds the next request once the window's budget is spent, until the
 * window has ended on the server too. The server's window starts when it counts the first
 * request, between that request's sending and its answer, so it has surely ended one window
 * length after the first answer came ({@link WINDOW_END_MARGIN_MS} added for timer grain).
 *
 * A 429 teaches the limit (header) and the window length (the body's words), and where the
 * current window ends (the reset, read against the server's Date header); from then on the
 * agent paces by what it learned. A 429 without those headers (a proxy, another server) teaches
 * nothing: delivery backs off instead (see {@link RatePacer.limited}).
 *
 * Time: the headers carry the server's wall clock; they are turned into a duration at once.
 * Every deadline kept here is on the agent's monotonic clock, so setting the system clock never
 * stretches or cuts a wait.
 *
 * @module
 */
import type { HttpResponse } from "../net/transport.ts";

/** The server's default budget: requests per window. */
export const DEFAULT_RATE_LIMIT = 60;
/** The server's default window, in ms. */
export const DEFAULT_RATE_WINDOW_MS = 60_000;
/**
 * Added to every wait for a rate-limit reset: the reset and the server's Date header are whole
 * seconds, so the window may really end up to a second after the reset the server announces.
 */
export const RESET_MARGIN_MS = 1_000;
/** Shortest wait after a 429 (its reset already past): never hammering. */
export const MIN_RATE_LIMIT_WAIT_MS = 1_000;
/** Longest wait a rate-limit answer can impose (guards against absurd headers). */
export const MAX_RATE_LIMIT_WAIT_MS = 60 * 60_000;
/** Added to a window's end, for timer and clock granularity. */
export const WINDOW_END_MARGIN_MS = 25;

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
 * wall clock `wallNow`, in ms since the epoch, when there is none); at most
 * {@link MAX_RATE_LIMIT_WAIT_MS}. Undefined when the response says neither.
 */
export function rateLimitResetWait(response: HttpResponse, wallNow: number): number | undefined {
  const reference = serverNow(response, wallNow);
  const resetText = response.headers["x-ratelimit-reset"];
  const reset = Number(resetText);
  let wait: number | undefined;
  if (resetText !== undefined && resetText.trim() !== "" && Number.isFinite(reset)) {
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

/** The budget a 429 announces: limit from its header, window from its words, when given. */
export function announcedBudget(
  response: HttpResponse,
): { limit?: number; windowMs?: number } {
  const limit = Number(response.headers["x-ratelimit-limit"]);
  let windowMs: number | undefined;
  try {
    const message = JSON.parse(response.body)?.message;
    const match = typeof message === "string"
      ? /per\s+(\d+(?:\.\d+)?)\s+seconds?/i.exec(message)
      : null;
    if (match) windowMs = Number(match[1]) * 1000;
  } catch {
    // Not JSON: no window in words.
  }
  return {
    limit: Number.isInteger(limit) && limit > 0 ? limit : undefined,
    windowMs: windowMs !== undefined && windowMs > 0 && windowMs <= MAX_RATE_LIMIT_WAIT_MS
      ? windowMs
      : undefined,
  };
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

/** What a 429 taught, for the log line. */
export interface RateLimitLesson {
  /** The budget now assumed. */
  limit: number;
  windowMs: number;
  /** How long the agent waits from the 429 before the next request. */
  waitMs: number;
  /** Whether the 429 carried the rate-limit headers (else nothing was learned). */
  announced: boolean;
  /**
   * Why the caller should back off on top of the wait, when it should: a 429 that announces
   * nothing, or a second 429 in a row (the budget is shared, or the window is not as said).
   */
  backOff?: string;
}

/**
 * Paces the requests to one path of the server by its fixed window, counted locally. Call
 * {@link RatePacer.sending} before each request (it says how long to wait first, 0 to go),
 * {@link RatePacer.answered} after each answer (or failure), {@link RatePacer.unsent} when the
 * request failed before it left, and {@link RatePacer.limited} on a 429.
 */
export class RatePacer {
  #limit = DEFAULT_RATE_LIMIT;
  #windowMs = DEFAULT_RATE_WINDOW_MS;
  /** Monotonic time by which the current window has surely ended on the server; undefined: none open. */
  #windowEnd: number | undefined;
  /** Monotonic time the current window's first request was sent (the server's window began later). */
  #windowStart = 0;
  /** The first request of the current window is in flight (its answer fixes the window's end). */
  #opening = false;
  /** Requests counted in the current window. */
  #count = 0;
  /** A 429 imposed no request before this monotonic time. */
  #heldUntil: number | undefined;

  /** The last answer was a 429. */
  #limitedBefore = false;
  /** No budget is kept (the server has none, as far as the agent was told) until a 429. */
  #unlimited = false;

  /**
   * `assumed`: the budget until a 429 says otherwise (default the server's, 60 per 60 s; null:
   * the server has none).
   */
  constructor(assumed?: { limit: number; windowMs: number } | null) {
    if (assumed !== undefined) this.assume(assumed);
  }

  /** Takes the budget config.ini states (null: none), in place of any learned before. */
  assume(budget: { limit: number; windowMs: number } | null): void {
    this.#unlimited = budget === null;
    if (budget !== null) {
      this.#limit = budget.limit;
      this.#windowMs = budget.windowMs;
    }
  }

  /** The budget assumed: the server's default until a 429 said otherwise. */
  get budget(): { limit: number; windowMs: number } {
    return { limit: this.#limit, windowMs: this.#windowMs };
  }

  /** The monotonic time before which no request may go, if one is set and ahead of `now`. */
  until(now: number): number | undefined {
    const held = this.#heldUntil !== undefined && this.#heldUntil > now
      ? this.#heldUntil
      : undefined;
    const spent = this.#count >= this.#limit && this.#windowEnd !== undefined &&
        this.#windowEnd > now
      ? this.#windowEnd
      : undefined;
    if (held === undefined) return spent;
    return spent === undefined ? held : Math.max(held, spent);
  }

  /**
   * A request is about to go at monotonic `now`: the wait in ms before it may (0: go now, and
   * it is counted).
   */
  sending(now: number): number {
    const until = this.until(now);
    if (until !== undefined) return until - now;
    if (this.#unlimited) return 0;
    // Between the earliest and the latest moment the server's window may end, a request could
    // land in either window: wait for the latest, so the local count stays the server's.
    if (
      this.#windowEnd !== undefined && !this.#opening && now < this.#windowEnd &&
      now >= this.#windowStart + this.#windowMs
    ) return this.#windowEnd - now;
    if (this.#windowEnd !== undefined && now >= this.#windowEnd && !this.#opening) {
      this.#windowEnd = undefined; // the window is over: the next request opens one
    }
    if (this.#windowEnd === undefined && !this.#opening) {
      this.#opening = true;
      this.#count = 0;
      this.#windowStart = now;
      // Until the answer comes, the window's end is bounded by the request's own time out.
      this.#windowEnd = now + this.#windowMs + WINDOW_END_MARGIN_MS;
    }
    this.#count++;
    return 0;
  }

  /**
   * A request counted by {@link RatePacer.sending} failed before a byte of it left (a refused
   * connection, a failed handshake): the server never counted it, so it is not counted here,
   * and a window it opened is dropped (the server's opens with the first request it sees).
   */
  unsent(): void {
    this.#limitedBefore = false;
    this.#count = Math.max(0, this.#count - 1);
    if (!this.#opening) return;
    this.#opening = false;
    this.#windowEnd = undefined;
  }

  /** The answer (or the failure) of a request came at monotonic `receivedAt`. */
  answered(receivedAt: number): void {
    this.#limitedBefore = false;
    if (!this.#opening) return;
    this.#opening = false;
    // The server counted the first request before it answered: its window ends by then + W.
    this.#windowEnd = receivedAt + this.#windowMs + WINDOW_END_MARGIN_MS;
  }

  /**
   * A 429 came: learns the budget it announces and holds requests until its window ends (its
   * reset, or the local window's end when that agrees within the reset's rounding). A 429 that
   * announces nothing returns `announced: false` and holds nothing: the caller backs off.
   */
  limited(response: HttpResponse, timing: AnswerTiming): RateLimitLesson {
    const again = this.#limitedBefore;
    this.answered(timing.receivedAt);
    this.#limitedBefore = true;
    const now = timing.receivedAt;
    const resetWait = rateLimitResetWait(response, timing.wallNow);
    const budget = announcedBudget(response);
    if (resetWait === undefined) {
      return {
        limit: this.#limit,
        windowMs: this.#windowMs,
        waitMs: 0,
        announced: false,
        backOff:
          "The server answered 429 (too many requests) without X-RateLimit-Reset: backing off",
      };
    }
    this.#unlimited = false;
    if (budget.limit !== undefined) this.#limit = budget.limit;
    if (budget.windowMs !== undefined) this.#windowMs = budget.windowMs;
    // The reset is floored to the second, and RESET_MARGIN_MS covers that: the window really
    // ends in [resetWait - 1 s, resetWait). The local end is used when it falls in there.
    const local = this.#windowEnd === undefined ? undefined : this.#windowEnd - now;
    const waitMs = Math.max(
      MIN_RATE_LIMIT_WAIT_MS,
      local !== undefined && local >= resetWait - RESET_MARGIN_MS && local <= resetWait
        ? local
        : resetWait,
    );
    this.#heldUntil = now + waitMs;
    // The window the server counts in ends then; the next request opens a new one.
    this.#windowEnd = now + waitMs;
    this.#windowStart = this.#windowEnd - this.#windowMs;
    this.#count = this.#limit;
    return {
      limit: this.#limit,
      windowMs: this.#windowMs,
      waitMs,
      announced: true,
      backOff: again
        ? "The server answered 429 (too many requests) again after its window: backing off"
        : undefined,
    };
  }
}
