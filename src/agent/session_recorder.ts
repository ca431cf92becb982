/**
 * The recording of session changes: a session source's changes and the events the sessions
 * present at start call for become journaled events, one after the other.
 *
 * The start buffer: the agent listens to its source as its start begins (the Windows service
 * accepts session changes from START_PENDING on), and the changes wait here, in order, until the
 * journal is open; a start that fails drops them and says how many. The start-up snapshot is
 * asked for at once and recorded once the agent has started, in the order it came among the
 * changes; the generation of the open-sessions view taken at that moment tells the plan which
 * sessions changed since (their snapshot may be stale).
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config/config.ts";
import type { JournalReader } from "../journal/journal.ts";
import type { LogFn } from "../log/log.ts";
import type { HostInfo } from "../net/host_info.ts";
import type { PresentSession, ReportedChange, SessionChange, SessionSource } from "../platform.ts";
import { captureEvent, describeUser } from "../sessions/capture.ts";
import { SessionTracker } from "../sessions/tracker.ts";
import { errorText } from "../text.ts";
import type { UnsavedEvents } from "./unsaved_events.ts";

/** Options of {@link SessionRecorder}. */
export interface SessionRecorderOptions {
  /** The agent's folder (sessions.json). */
  dir: string;
  clock: Clock;
  log: LogFn;
  /** The settings in force. */
  settings: () => Config;
  /** The values every event carries (the primary IPv4). */
  host: HostInfo;
  /** The ordered writer to event_log.csv. */
  unsaved: UnsavedEvents;
  /** Restricts a new file (sessions.json). */
  secure?: (path: string) => Promise<void>;
  /** An event reached event_log.csv. */
  recorded: () => void;
  /** Keeps a background task for the stop to wait for. */
  track: (task: Promise<unknown>) => void;
}

/** Records session changes; see the module documentation. */
export class SessionRecorder {
  #options: SessionRecorderOptions;
  #tracker: SessionTracker;
  #start = Promise.withResolvers<boolean>();
  #running = false;
  #closing = false;
  /** Changes received before the start ended. */
  #waiting = 0;
  #since = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #source: SessionSource | undefined;

  constructor(options: SessionRecorderOptions) {
    this.#options = options;
    this.#tracker = new SessionTracker({
      dir: options.dir,
      clock: options.clock,
      log: options.log,
      settings: options.settings,
      secure: options.secure,
    });
    this.#queue = this.#start.promise;
  }

  /**
   * What reads the live event_log.csv's rows as the journal opens it, so that one pass builds the
   * open sessions too; {@linkcode load} completes them.
   */
  reader(): JournalReader {
    return this.#tracker.reader();
  }

  /** Reads the open sessions from event_log.csv and sessions.json (before the start ends). */
  load(journalPath: string): Promise<void> {
    return this.#tracker.load(journalPath);
  }

  /**
   * Records `source`'s changes and, once started, the events its snapshot calls for. Call it
   * once, at the beginning of the start or after it.
   */
  listen(source: SessionSource): void {
    this.#source = source;
    // The snapshot first: the source delivers no change before it, and its reaction here runs
    // before the source's own, so the snapshot's events are queued ahead of the changes.
    const snapshot = source.presentSessions?.().then((present) => {
      if (present) this.#enqueue(() => this.#recordPresent(present));
    }, (error) => {
      this.#options.log("warn", `Sessions present at start not read: ${errorText(error)}`);
    });
    if (snapshot) this.#options.track(snapshot);
    source.run((change) => this.record(change)).catch((error) => {
      this.#options.log("error", `Session source stopped: ${errorText(error)}`);
    });
  }

  /** The journal is open: the changes that waited during the start are recorded now. */
  started(): void {
    this.#running = true;
    this.#since = this.#tracker.generation;
    this.#start.resolve(true);
  }

  /** The start failed: the changes received meanwhile are dropped, and the source closed. */
  failed(): void {
    this.#source?.close();
    if (this.#waiting > 0) {
      this.#options.log(
        "error",
        `${this.#waiting} session change(s) received during the start are lost: the journal could not be opened`,
      );
    }
    this.#start.resolve(false);
  }

  /**
   * Records one session change: the event is captured with the values that will be sent (user,
   * computer, primary IPv4, time of the change in the configured zone), written to event_log.csv
   * and flushed. Resolves once the event is on disk, or held in memory when the disk refuses it.
   * A disconnect or reconnect is recorded per `disconnect_events` (src/sessions/sessions.ts), or
   * not at all. During the start it waits until the journal is open.
   */
  record(change: SessionChange): Promise<void> {
    if (this.#closing) {
      this.#options.log(
        "warn",
        `A ${change.type} of session ${change.session} after the stop is not recorded`,
      );
      return Promise.resolve();
    }
    if (!this.#running) this.#waiting++;
    return this.#enqueue(() => {
      const reported = this.#tracker.translate(change);
      const policy = `disconnect_events = ${this.#options.settings().disconnectEvents}`;
      if (!reported) {
        const why = change.type === "logoff"
          ? "the user is still logged on in another session"
          : policy;
        this.#options.log(
          "debug",
          `${change.type} of ${
            describeUser(change)
          } (session ${change.session}) not recorded (${why})`,
        );
        return Promise.resolve();
      }
      let how = reported.type === change.type ? "" : ` (a ${change.type}, ${policy})`;
      // Inferred changes are placed when planned; a notification's change is placed here.
      const placed = this.#tracker.place(reported);
      if (placed !== reported) {
        how += ` (moved on from ${reported.at}: an event of this type and user is at that second)`;
      }
      return this.#record(placed, how);
    });
  }

  /**
   * The wall clock moved forward by `ms` at once (a simulated run's clock line): the minute
   * write of sessions.json that would have fallen in between is made, after what is queued.
   */
  clockAdvanced(ms: number): Promise<void> {
    return ms >= 60_000 ? this.#enqueue(() => this.#tracker.refresh()) : Promise.resolve();
  }

  /** Resolves once everything queued so far (changes, the snapshot, clock steps) is done. */
  idle(): Promise<void> {
    return this.#enqueue(() => Promise.resolve());
  }

  /**
   * Stops listening: the source is closed and the changes it handed over are recorded; at a
   * shutdown, then a Logoff for every user still logged on (`logoff_at_shutdown`). The source's
   * run is not waited for: a source may be the caller (logind's shutdown waits for this stop
   * before it ends). {@link finish} writes sessions.json a last time.
   */
  async close(options: { shutdown?: boolean } = {}): Promise<void> {
    this.#closing = true;
    this.#source?.close();
    await this.#queue;
    if (options.shutdown && this.#running) {
      for (const { change, reason } of this.#tracker.planShutdown()) {
        await this.#record(change, ` (${reason})`);
      }
    }
    this.#running = false;
  }

  /** Writes sessions.json a last time (see SessionTracker.close), once delivery has stopped. */
  finish(): Promise<void> {
    return this.#tracker.close();
  }

  /** The events the sessions present at start call for; then sessions.json once a minute. */
  async #recordPresent(present: readonly PresentSession[]): Promise<void> {
    for (const { change, reason } of this.#tracker.planStart(present, this.#since)) {
      if (this.#closing) return;
      await this.#record(change, ` (${reason})`);
    }
    if (!this.#closing) this.#tracker.keepAlive();
  }

  /** Runs `job` after the jobs before it, once the start succeeded (never after a failed one). */
  #enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(() => this.#start.promise).then((ok) => ok ? job() : undefined);
    this.#queue = run.catch(() => {});
    return run;
  }

  #record(change: ReportedChange, how: string): Promise<void> {
    const { host, log, settings, unsaved } = this.#options;
    const event = captureEvent(change, host, settings().timeZone);
    this.#tracker.noted(event, change.session);
    const who = describeUser(change);
    // Session 0 is no user's (Windows' services session): an inferred event's session is unknown.
    const session = change.session === 0 ? "" : ` (session ${change.session})`;
    return unsaved.append(event, who, () => {
      log(
        "info",
        `${event.eventType} of ${who}${session} at ${event.timestamp} recorded${how}`,
      );
      this.#options.recorded();
    });
  }
}
