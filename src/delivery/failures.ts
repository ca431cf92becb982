/**
 * What delivery knows of its failures: the last error (for status.json), since when attempts
 * fail and why, the consecutive failures and the backoff of all of delivery they lead to.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { redact } from "../log/redact.ts";
import { backoffDelay } from "./deferred_events.ts";
import type { DeliveryFailure, DeliveryOptions, DeliveryState } from "./types.ts";

type Logger = DeliveryOptions["log"];

/** The failures of delivery, each said once in the log and kept as the last error. */
export class FailureRecord {
  #clock: Clock;
  #log: Logger;
  #lastError: DeliveryState["lastError"];
  /** Since when attempts fail, and why the last one did (DeliveryState.failingSince). */
  #failing: { since: number; why: DeliveryFailure } | undefined;
  /** Consecutive failures (any event): two in a row mean the server, not the event. */
  #count = 0;
  /** Backoff of all of delivery: no request before this monotonic time. */
  #backoffUntil: number | undefined;
  /** The event the last failure was for: a failure of another one next is the server's. */
  #lastFailed: string | undefined;

  constructor(clock: Clock, log: Logger) {
    this.#clock = clock;
    this.#log = log;
  }

  get lastError(): DeliveryState["lastError"] {
    return this.#lastError;
  }

  get failing(): { since: number; why: DeliveryFailure } | undefined {
    return this.#failing;
  }

  /** The monotonic time before which nothing is sent, if any. */
  get backoffUntil(): number | undefined {
    return this.#backoffUntil;
  }

  /** An attempt failed for `why`: failing since now, unless it already was. */
  attemptFailed(why: DeliveryFailure): void {
    this.#failing = { since: this.#failing?.since ?? this.#clock.wallNow(), why };
  }

  /** An event was accepted: nothing fails any more. */
  succeeded(): void {
    this.#failing = undefined;
    this.#count = 0;
    this.#backoffUntil = undefined;
  }

  /** An event was settled for good (refused): attempts no longer fail. */
  settled(): void {
    this.#failing = undefined;
  }

  /** A resume: the backoff and the count of failures start over. */
  reset(): void {
    this.#count = 0;
    this.#backoffUntil = undefined;
  }

  /** Keeps `message` (redacted) as the last error and returns it. */
  note(message: string): string {
    const text = redact(message);
    this.#lastError = { at: this.#clock.wallNow(), message: text };
    return text;
  }

  /** Logs `message` as an error and keeps it as the last error. */
  error(message: string): void {
    this.#log("error", this.note(message));
  }

  /**
   * The server failed the event `key`: true when the previous attempt failed for another event
   * too (the server, not the event: back off all of delivery).
   */
  failedFor(key: string): boolean {
    const another = this.#count > 0 && this.#lastFailed !== key;
    this.#lastFailed = key;
    if (!another) this.#count = 1;
    return another;
  }

  /**
   * A failure of all of delivery: exponential backoff with full jitter, each step at most `cap`
   * (default: the 5-minute backoff cap).
   */
  backOff(message: string, cap?: number): void {
    this.#count++;
    const delay = backoffDelay(this.#count, this.#clock.random(), cap);
    this.#backoffUntil = this.#clock.monotonic() + delay;
    const text = this.note(message);
    this.#log(
      "warn",
      `${text}; attempt ${this.#count} failed, next in ${(delay / 1000).toFixed(1)} s`,
    );
  }
}
