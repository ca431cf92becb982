/**
 * The writes of new events to event_log.csv, one after the other, and the unsaved events (those
 * the disk refused): they are held in memory, in order, and written again every few seconds until the
 * disk takes them (a full disk, a permission taken away). While any event is held, newer ones
 * queue behind it so the file keeps the order in which the changes happened.
 *
 * @module
 */
import type { Clock, Timer } from "../clock.ts";
import type { SessionEvent } from "../event.ts";
import type { LogFn } from "../log/log.ts";

/** How often unsaved events are tried again. */
export const UNSAVED_RETRY_MS = 5_000;

/** Where events are written (the journal). */
export interface EventSink {
  append(event: SessionEvent): Promise<unknown>;
}

/** Options of {@link UnsavedEvents}. */
export interface UnsavedEventsOptions {
  /** The agent's folder, named in the error. */
  dir: string;
  clock: Clock;
  log: LogFn;
  /** The journal; undefined while it is not open (events are held). */
  sink: () => EventSink | undefined;
  /** Held events reached the disk. */
  onSaved: () => void;
  /** The number of held events may have changed. */
  onChange: () => void;
  /** A write was refused (`held` events are now in memory only). */
  onRefused?: (error: Error, held: number) => void;
  /** Time between retries (default {@link UNSAVED_RETRY_MS}). */
  retryMs?: number;
}

/** The ordered writer of new events, with the unsaved events (those the disk refused). */
export class UnsavedEvents {
  #options: UnsavedEventsOptions;
  /** Held events with what their append promised: the log line and delivery's wake-up. */
  #held: { event: SessionEvent; written: () => void }[] = [];
  #chain: Promise<void> = Promise.resolve();
  #timer: Timer | undefined;
  #closed = false;

  constructor(options: UnsavedEventsOptions) {
    this.#options = options;
  }

  /** The number of events held in memory. */
  get count(): number {
    return this.#held.length;
  }

  /**
   * Writes `event` after the writes before it; `written` runs once it is on disk. When it cannot
   * be written now it is held (`who` names the user in the log line) and the promise resolves.
   */
  append(event: SessionEvent, who: string, written: () => void): Promise<void> {
    const run = this.#chain.then(async () => {
      const sink = this.#options.sink();
      if (this.#held.length > 0 || !sink) {
        this.#held.push({ event, written });
        this.#options.log(
          "warn",
          `${event.eventType} of ${who} held in memory: event_log.csv is not writable`,
        );
        this.#options.onChange();
        return;
      }
      try {
        await sink.append(event);
      } catch (error) {
        this.#held.push({ event, written });
        this.#refused(error as Error);
        return;
      }
      written();
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Writes the held events now (event_log.csv has just become writable). */
  writeNow(): void {
    if (this.#held.length === 0 || this.#closed) return;
    this.#timer?.cancel();
    this.#chain = this.#chain.then(() => this.#writeHeld()).catch(() => {});
  }

  /** Stops retrying, waits for the write in progress and tries the held events once more. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    await this.#chain;
    if (this.#held.length > 0) await this.#writeHeld();
  }

  #refused(error: Error): void {
    this.#options.log(
      "error",
      `Cannot write event_log.csv in ${this.#options.dir}: ${error.message}; ${this.#held.length} events held in memory and written as soon as the disk allows (free disk space or fix permissions)`,
    );
    this.#timer?.cancel();
    if (!this.#closed) {
      this.#timer = this.#options.clock.after(this.#options.retryMs ?? UNSAVED_RETRY_MS, () => {
        this.#chain = this.#chain.then(() => this.#writeHeld()).catch(() => {});
      });
    }
    this.#options.onChange();
    this.#options.onRefused?.(error, this.#held.length);
  }

  async #writeHeld(): Promise<void> {
    while (this.#held.length > 0) {
      try {
        const sink = this.#options.sink();
        if (!sink) throw new Error("event_log.csv is not open");
        await sink.append(this.#held[0].event);
      } catch (error) {
        this.#refused(error as Error);
        return;
      }
      this.#held.shift()!.written();
    }
    this.#options.log("info", "Events held in memory are now in event_log.csv");
    this.#options.onSaved();
  }
}
