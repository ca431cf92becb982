/**
 * The conditions a monitoring rule watches in the system's event log (docs/monitoring.md,
 * "Event Log"), derived from what the health checks and delivery observe: the server
 * unreachable for a while (203), events waiting too long (204), a certificate that matches no
 * pin (205), an API key the server refuses (206). Each is written once when it starts to hold
 * and cleared once (213 to 216) when it stops; {@link SystemEvents.condition} keeps that rule.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { DeliveryState } from "../delivery/types.ts";
import type { HealthResult } from "../delivery/health.ts";
import {
  BACKLOG_ALARM_MINUTES,
  backlogOldEvent,
  keyRefusedEvent,
  pinMismatchEvent,
  serverUnreachableEvent,
  UNREACHABLE_ALARM_MINUTES,
} from "../log/app_event_log.ts";
import type { SystemEvents } from "../log/system_events.ts";

/** How often the time-based conditions (203, 204) are looked at. */
export const WATCH_INTERVAL_MS = 60_000;

/** Options of {@link ServerWatch}. */
export interface ServerWatchOptions {
  clock: Clock;
  events: Pick<SystemEvents, "condition">;
  serverUrl: () => string;
  /** The oldest event not yet sent: its time as recorded, and how many wait. */
  backlog: () => { oldest: string | undefined; pending: number };
}

/** What one attempt (a health check or a delivery) learnt about the server. */
interface Observation {
  at: number;
  message: string;
  /** The server answered over HTTP (so it is reachable and its certificate passed). */
  answered: boolean;
  /** No answer: the server cannot be reached or did not answer in time. */
  unreachable?: boolean;
  pinMismatch?: boolean;
  keyRefused?: boolean;
  /** The server accepted the key (a health check passed, an event was stored). */
  keyAccepted?: boolean;
}

/** Derives the watched conditions and hands them to the system's event log. */
export class ServerWatch {
  #options: ServerWatchOptions;
  #unreachable: { since: number; message: string } | undefined;
  /** When the server last answered (a health check's start, a delivery's answer). */
  #answeredAt = -Infinity;
  #seenErrorAt: number | undefined;
  #seenSent = 0;

  constructor(options: ServerWatchOptions) {
    this.#options = options;
  }

  /** A health check's result. */
  health(result: HealthResult): void {
    this.#observe({
      at: result.at,
      message: result.message,
      answered: result.httpStatus !== undefined,
      unreachable: result.failure === "network" || result.failure === "timeout",
      pinMismatch: result.failure === "pin-mismatch",
      keyRefused: result.keyRefused,
      keyAccepted: result.ok,
    });
  }

  /** Delivery's state: a new failure or a new event stored is an observation. */
  delivery(state: DeliveryState): void {
    if (state.sent > this.#seenSent) {
      this.#seenSent = state.sent;
      const at = state.lastSentAt ?? this.#options.clock.wallNow();
      this.#observe({ at, message: "", answered: true, keyAccepted: true });
    }
    const error = state.lastError;
    if (!error || error.at === this.#seenErrorAt || state.failingSince === undefined) return;
    this.#seenErrorAt = error.at;
    this.#observe({
      at: error.at,
      message: error.message,
      answered: state.failure === "answer",
      unreachable: state.failure === "network" || state.failure === "timeout",
      pinMismatch: state.failure === "pin-mismatch",
      keyRefused: state.paused === "unauthorized",
    });
  }

  /** Looks at the time-based conditions: on a timer, and after every observation. */
  check(): void {
    const now = this.#options.clock.wallNow();
    const events = this.#options.events;
    const down = this.#unreachable;
    events.condition(
      "unreachable",
      down && now - down.since >= UNREACHABLE_ALARM_MINUTES * 60_000
        ? serverUnreachableEvent({
          serverUrl: this.#options.serverUrl(),
          since: new Date(down.since).toISOString(),
          message: down.message,
        })
        : undefined,
    );
    const { oldest, pending } = this.#options.backlog();
    const age = oldest === undefined ? 0 : now - Temporal.Instant.from(oldest).epochMilliseconds;
    events.condition(
      "backlog",
      oldest !== undefined && age >= BACKLOG_ALARM_MINUTES * 60_000
        ? backlogOldEvent({ oldest, pending })
        : undefined,
    );
  }

  #observe(seen: Observation): void {
    const events = this.#options.events;
    // A health check is dated by its start: one that began before the server answered and
    // gave up after says nothing newer than that answer, and must not start an outage.
    if (seen.unreachable && seen.at >= this.#answeredAt) {
      this.#unreachable = {
        since: this.#unreachable?.since ?? seen.at,
        message: seen.message,
      };
    } else if (seen.answered || seen.pinMismatch) {
      this.#unreachable = undefined;
      this.#answeredAt = Math.max(this.#answeredAt, seen.at);
    }
    if (seen.pinMismatch) {
      events.condition("pinMismatch", pinMismatchEvent({ message: seen.message }));
    } else if (seen.answered) {
      events.condition("pinMismatch", undefined);
    }
    if (seen.keyRefused) {
      events.condition("keyRefused", keyRefusedEvent({ message: seen.message }));
    } else if (seen.keyAccepted) {
      events.condition("keyRefused", undefined);
    }
    this.check();
  }
}
