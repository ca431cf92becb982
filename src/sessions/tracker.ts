/**
 * The agent's part that keeps the open-sessions view (src/sessions/sessions.ts) current: at start it takes
 * the live event_log.csv's rows as the journal reads them (one pass for both), then reads the
 * newest archive for what the live file lacks (as a stream) and sessions.json; it notes every
 * event the agent records, translates disconnects and reconnects per the policy, plans the
 * events of the start-up snapshot and of a shutdown, and rewrites sessions.json once a minute.
 *
 * @module
 */
import { archivePath } from "../log/rotation.ts";
import type { Clock, Timer } from "../clock.ts";
import { eventTypeOf, type SessionEvent } from "../event.ts";
import type { JournalReader } from "../journal/journal.ts";
import { scanRows } from "../journal/scan.ts";
import { instantMs } from "./instant.ts";
import { openRegular } from "../no_follow.ts";
import type { LogFn } from "../log/log.ts";
import type { PresentSession, ReportedChange, SessionChange } from "../platform.ts";
import { type InferenceSettings, OpenSessions, translateChange } from "./sessions.ts";
import { type InferredChange, planAtShutdown, planAtStart } from "./inference.ts";
import { ALIVE_INTERVAL_MS, type AliveRecord, readAlive, writeAlive } from "./alive.ts";
import { errorText } from "../text.ts";

/** Options of {@link SessionTracker}. */
export interface SessionTrackerOptions {
  /** The agent's folder (sessions.json lives there). */
  dir: string;
  clock: Clock;
  log: LogFn;
  /** The settings in force (they follow config.ini). */
  settings: () => InferenceSettings;
  /** Restricts a new file (the platform's secureFile). */
  secure?: (path: string) => Promise<void>;
  /** Time between writes of sessions.json (default {@link ALIVE_INTERVAL_MS}). */
  intervalMs?: number;
}

/** Keeps the open-sessions view; see the module documentation. */
export class SessionTracker {
  #options: SessionTrackerOptions;
  #view = new OpenSessions();
  /** The view being built from the live journal's rows while the journal opens. */
  #loading: OpenSessions | undefined;
  #previous: AliveRecord | undefined;
  #timer: Timer | undefined;
  #keeping = false;
  /** Events noted before the journal was read (held while the agent starts), noted again after. */
  #early: { event: SessionEvent; session: number }[] | undefined = [];
  #writing: Promise<void> = Promise.resolve();

  constructor(options: SessionTrackerOptions) {
    this.#options = options;
  }

  /** The view (tests). */
  get view(): OpenSessions {
    return this.#view;
  }

  /**
   * What reads the live journal's rows as the journal opens it (Journal.open's `reader`): the
   * view is built from them, then completed by {@linkcode load}.
   */
  reader(): JournalReader {
    this.#loading = new OpenSessions();
    return {
      row: (event) => {
        const at = instantMs(event.timestamp);
        if (at !== undefined) this.#loading?.note(event.eventType, event.userName, at);
      },
      restart: () => {
        this.#loading = new OpenSessions();
      },
    };
  }

  /**
   * Completes the view: the rows the journal at `journalPath` handed to {@linkcode reader}, then
   * what its newest archive adds (users the live file lacks, or an event later than the live
   * file's), then sessions.json.
   */
  async load(journalPath: string): Promise<void> {
    let view = this.#loading;
    this.#loading = undefined;
    if (view === undefined) {
      // The journal was opened without the reader: read its live file here.
      view = new OpenSessions();
      await this.#read(journalPath, view, "note");
    }
    await this.#read(archivePath(journalPath, 1), view, "noteEarlier");
    this.#view = view;
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const { event, session } of early) this.noted(event, session);
    this.#previous = await readAlive(this.#options.dir, (m) => this.#options.log("warn", m));
    for (const user of this.#previous?.disconnected ?? []) {
      const state = this.#view.get(user);
      if (state && state.last !== "Unlock" && state.last !== "Logon") {
        this.#view.setDisconnected(user, true);
      }
    }
    const open = this.#view.open().map(([user]) => user);
    this.#options.log(
      "info",
      `Open sessions in event_log.csv: ${open.length ? open.join(", ") : "none"}` +
        (this.#previous
          ? `; sessions.json last written ${
            Temporal.Instant.fromEpochMilliseconds(this.#previous.aliveAt).toString()
          }`
          : "; no sessions.json"),
    );
  }

  /** Notes each row of the journal file at `path` (`how`: in order, or read after later rows). */
  async #read(path: string, view: OpenSessions, how: "note" | "noteEarlier"): Promise<void> {
    try {
      using file = await openRegular(path, { read: true }); // never a FIFO, a device or a link
      await scanRows(file, path, (row) => {
        const at = instantMs(row.timestamp);
        if (at !== undefined) view[how](row.eventType, row.userName, at);
      });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        this.#options.log("warn", `Open sessions: cannot read ${path}: ${errorText(error)}`);
      }
    }
  }

  /** The change to record for `change` per the disconnect policy, or undefined for none. */
  translate(change: SessionChange): ReportedChange | undefined {
    return translateChange(this.#view, change, {
      policy: this.#options.settings().disconnectEvents,
    });
  }

  /**
   * `change` at the earliest time, from its own on, that keeps the user's events in order and
   * repeats the five fields of no event of the journal (and its newest archive): the server's
   * duplicate key holds whole seconds, so a second Lock of one user in one second would be
   * answered "already recorded" and never stored. Moved changes start at a whole second.
   */
  place(change: ReportedChange): ReportedChange {
    const ms = change.at.epochMilliseconds;
    const free = this.#view.freeInstant(eventTypeOf(change.type), change.user, ms);
    return free === ms ? change : { ...change, at: Temporal.Instant.fromEpochMilliseconds(free) };
  }

  /** Notes an event the agent records (call in recording order). */
  noted(event: SessionEvent, session: number): void {
    this.#early?.push({ event, session });
    const at = instantMs(event.timestamp);
    if (at !== undefined) this.#view.note(event.eventType, event.userName, at, session);
  }

  /** The view's generation, to pass back to {@link planStart}. */
  get generation(): number {
    return this.#view.generation;
  }

  /** The events the start-up snapshot calls for; see `planAtStart`. */
  planStart(present: readonly PresentSession[], since: number): InferredChange[] {
    return planAtStart(this.#view, present, {
      settings: this.#options.settings(),
      alive: this.#previous,
      now: this.#options.clock.wallNow(),
      since,
    });
  }

  /** The Logoffs a shutdown calls for; see `planAtShutdown`. */
  planShutdown(): InferredChange[] {
    return planAtShutdown(this.#view, {
      now: this.#options.clock.wallNow(),
      settings: this.#options.settings(),
    });
  }

  /** Starts rewriting sessions.json every minute (and once now). */
  keepAlive(): void {
    if (this.#keeping) return;
    this.#keeping = true;
    this.#timer = this.#options.clock.every(
      this.#options.intervalMs ?? ALIVE_INTERVAL_MS,
      () => void this.write(),
    );
    void this.write();
  }

  /**
   * Stops the minute writes, then writes sessions.json once more (a clean stop), unless the
   * writes never started: without a start-up snapshot the view may hold sessions that ended
   * while the agent was not running, and the file keeps the time of the run that knew them.
   */
  async close(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#keeping) await this.write();
    await this.#writing;
  }

  /** Writes sessions.json now if the minute writes are on (a wall clock that jumped ahead). */
  refresh(): Promise<void> {
    return this.#keeping ? this.write() : Promise.resolve();
  }

  /** Writes sessions.json now (one write at a time); a failure is logged, never thrown. */
  write(): Promise<void> {
    const record: AliveRecord = {
      aliveAt: this.#options.clock.wallNow(),
      open: this.#view.open().map(([user]) => user),
      disconnected: this.#view.disconnectedUsers(),
    };
    this.#writing = this.#writing.then(async () => {
      try {
        await writeAlive(this.#options.dir, record, this.#options.secure);
      } catch (error) {
        this.#options.log("warn", `Cannot write sessions.json: ${errorText(error)}`);
      }
    });
    return this.#writing;
  }
}
