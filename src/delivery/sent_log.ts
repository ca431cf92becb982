/**
 * The log's "Sent" lines: at the default level a newcomer sees that events arrive, without
 * reading event_log.csv's last column, and a backlog that drains does not flood the log.
 *
 * @module
 */
import type { DeliveryOptions } from "./types.ts";

/** While a backlog drains, one summary line per this many events (and one at its end). */
export const SENT_SUMMARY_EVERY = 100;

/**
 * One line per event when it was the only one waiting; while a backlog drains (more than one
 * waited), each event at debug level and one summary line per {@link SENT_SUMMARY_EVERY} events
 * and when nothing waits any more: a drain of thousands would otherwise push the log's history
 * out through rotation.
 */
export class SentLog {
  #log: DeliveryOptions["log"];
  /** Events of a draining backlog sent since its last summary line. */
  #drained = 0;

  constructor(log: DeliveryOptions["log"]) {
    this.#log = log;
  }

  /**
   * `what` (e.g. "Lock of josh at …") was stored; `waiting` events were pending when it was
   * sent, `left` are now.
   */
  sent(what: string, facts: { duplicate: boolean; waiting: number; left: number }): void {
    const line = `Sent ${what}${facts.duplicate ? " (the server already had it)" : ""}`;
    if (facts.waiting <= 1 && this.#drained === 0) return this.#log("info", line);
    this.#log("debug", line);
    this.#drained++;
    if (facts.left > 0 && this.#drained < SENT_SUMMARY_EVERY) return;
    this.#log("info", `Sent ${this.#drained} waiting events, the last ${what}; ${facts.left} wait`);
    this.#drained = 0;
  }
}
