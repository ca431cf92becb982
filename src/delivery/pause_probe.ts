/**
 * While delivery is paused by an answer of the server (the API key refused, not the event
 * endpoint, answers not from the expected server), the server is asked again by itself, with
 * exponential backoff, whatever health_check_interval is (0 included): a transient 401 or 404
 * never stops sending until a restart.
 *
 * @module
 */
import type { Clock, Timer } from "../clock.ts";
import { BACKOFF_BASE_MS, backoffDelay } from "./deferred_events.ts";

/** Options of {@link PauseProbe}. */
export interface PauseProbeOptions {
  clock: Clock;
  /** Asks the server again (a health check, or a resume that tries the next event). */
  probe: () => void;
  /** Whether the pause still holds when the probe is due. */
  stillPaused: () => boolean;
}

/** Schedules the probes of one paused delivery; {@link PauseProbe.cancel} ends them. */
export class PauseProbe {
  #options: PauseProbeOptions;
  #timer: Timer | undefined;
  /** Pauses and probes in a row without an event sent: the backoff's exponent. */
  #count = 0;

  constructor(options: PauseProbeOptions) {
    this.#options = options;
  }

  /** Sending paused: the next probe in a backoff that grows with each pause in a row. */
  paused(): number {
    this.#count++;
    return this.#schedule();
  }

  /** An event was sent: the next pause starts the backoff afresh. */
  sent(): void {
    this.#count = 0;
  }

  /** No probe until the next pause. */
  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #schedule(): number {
    this.cancel();
    const { clock } = this.#options;
    const delay = Math.max(BACKOFF_BASE_MS, backoffDelay(this.#count, 0.5 + clock.random() / 2));
    this.#timer = clock.after(delay, () => {
      this.#timer = undefined;
      if (!this.#options.stillPaused()) return;
      this.#options.probe();
      // A probe that passes resumes delivery (which cancels this); else ask again, less often.
      if (this.#options.stillPaused()) {
        this.#count++;
        this.#schedule();
      }
    });
    return delay;
  }
}
