/**
 * Opening event_log.csv at the start. When there is no event_log.csv yet (the first start) and
 * the folder refuses a new one (a full disk, a permission), the agent still starts: the events
 * it records are held in memory (unsaved_events.ts), the refusal is reported, and the journal is
 * tried again every few seconds until it opens. An event_log.csv that exists but cannot be
 * opened still stops the start (it may hold events the agent must not write over).
 *
 * @module
 */
import { join } from "node:path";
import type { Clock, Timer } from "../clock.ts";
import type { Journal, JournalReader } from "../journal/journal.ts";
import type { JournalSetAside } from "../log/app_event_log.ts";
import type { LogFn } from "../log/log.ts";
import { errorText } from "../text.ts";
import { UNSAVED_RETRY_MS } from "./unsaved_events.ts";
import { openJournal } from "./startup.ts";

/** Options of {@link JournalOpener}. */
export interface JournalOpenerOptions {
  dir: string;
  clock: Clock;
  log: LogFn;
  /** The rotation size in force. */
  rotationSizeBytes: () => number;
  onSetAside?: (details: JournalSetAside) => void;
  /** Reads the live file's rows as the journal opens it (the open-sessions view), when given. */
  reader?: () => JournalReader | undefined;
  /** The journal is open (at the start, or later after a refusal). */
  onOpen: (journal: Journal) => Promise<void>;
  /** The first start could not create event_log.csv (`error`); events are held meanwhile. */
  onRefused: (error: Error) => void;
  /** Time between tries (default {@link UNSAVED_RETRY_MS}). */
  retryMs?: number;
}

/** Opens the journal at the start, and again later when the first start could not create it. */
export class JournalOpener {
  #options: JournalOpenerOptions;
  #timer: Timer | undefined;
  #closed = false;

  constructor(options: JournalOpenerOptions) {
    this.#options = options;
  }

  /** The path of event_log.csv. */
  get path(): string {
    return join(this.#options.dir, "event_log.csv");
  }

  /**
   * Opens event_log.csv and hands it to `onOpen`. Resolves false when there was none and the
   * folder refused a new one: then it tries again until it opens or {@link close} is called.
   * @throws {StartError} When an existing event_log.csv cannot be opened.
   */
  async open(): Promise<boolean> {
    const first = await Deno.lstat(this.path).then(
      () => false,
      (error) => error instanceof Deno.errors.NotFound,
    );
    try {
      await this.#options.onOpen(await this.#open());
      return true;
    } catch (error) {
      if (!first) throw error;
      const cause = (error as Error).cause ?? error;
      this.#options.log(
        "error",
        `Cannot create ${this.path}: ${
          errorText(cause)
        }; the agent runs on and holds the events it records in memory until it can write them (free disk space or fix the folder's permissions)`,
      );
      this.#options.onRefused(cause as Error);
      this.#retryLater();
      return false;
    }
  }

  /** Stops trying again; idempotent. */
  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
  }

  #open(): Promise<Journal> {
    return openJournal(this.#options.dir, {
      rotationSizeBytes: this.#options.rotationSizeBytes(),
      log: this.#options.log,
      onSetAside: this.#options.onSetAside,
      reader: this.#options.reader?.(),
    });
  }

  #retryLater(): void {
    if (this.#closed) return;
    this.#timer = this.#options.clock.after(this.#options.retryMs ?? UNSAVED_RETRY_MS, async () => {
      let journal: Journal;
      try {
        journal = await this.#open();
      } catch {
        this.#retryLater();
        return;
      }
      if (this.#closed) {
        await journal.close();
        return;
      }
      this.#options.log("info", `Created ${this.path}: the disk takes writes again`);
      await this.#options.onOpen(journal).catch((error) => {
        this.#options.log("error", `Unexpected: ${(error as Error).stack ?? error}`);
      });
    });
  }
}
