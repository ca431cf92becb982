/**
 * When the agent writes to the system's event log (Windows: the Application log, source
 * UserSessionMonService; docs/monitoring.md, "Event Log"): once per fact, not once per occurrence. A config
 * error is written once per distinct error (again only after the file was fixed in between),
 * a pause of sending once until sending resumes, an unwritable event_log.csv once per episode
 * (until the held events reach the disk). The entries and their IDs are in src/log/app_event_log.ts.
 *
 * The log is a courtesy: a write that fails never stops the agent and is logged to error.log
 * once (again only after a write succeeded in between). Every text passes through the agent's
 * redactor first, so the API key never reaches the Event Log.
 *
 * @module
 */
import {
  type Condition,
  conditionClearedEvent,
  configErrorEvent,
  type JournalSetAside,
  journalSetAsideEvent,
  journalUnwritableEvent,
  type PauseReason,
  reportTo,
  sendingPausedEvent,
  sendingResumedEvent,
  startedEvent,
  startFailedEvent,
  stoppedEvent,
  type SystemEvent,
} from "./app_event_log.ts";
import type { SystemEventLog } from "../platform.ts";
import { serviceExitCode } from "../exit_codes.ts";
import type { LogFn } from "./log.ts";
import { errorText } from "../text.ts";

/** Options of {@link SystemEvents}. */
export interface SystemEventsOptions {
  /** The system's event log; undefined where there is none (nothing is written). */
  log: SystemEventLog | undefined;
  /** The agent's own log (error.log, session_monitor.log). */
  logLine: LogFn;
  /** Masks every known secret in a text. */
  redact: (text: string) => string;
}

/** Delivery's pause, as src/delivery/delivery.ts DeliveryState reports it. */
export type DeliveryPause =
  | "unauthorized"
  | "misconfigured"
  | "not-configured"
  | "refusing"
  | null;

/** The agent's entries in the system's event log, each written once per fact. */
export class SystemEvents {
  #options: SystemEventsOptions;
  /** The config error written last; undefined while config.ini is usable. */
  #configProblem: string | undefined;
  /** The reason of the pause written last; undefined while sending is not paused. */
  #pausedFor: PauseReason | undefined;
  /** Delivery's count of events sent when the pause was written. */
  #sentAtPause = 0;
  /** The conditions written and not cleared yet. */
  #raised = new Set<Condition>();
  /** An unwritable event_log.csv was written and the held events are not on disk yet. */
  #journalRefused = false;
  /** The last write failed (its failure was logged). */
  #failing = false;
  #wrote = false;

  constructor(options: SystemEventsOptions) {
    this.#options = options;
  }

  /** 100: the agent started. */
  started(details: { version: string; serverUrl: string; installDir: string }): void {
    this.#write(startedEvent(details));
  }

  /** 101: the agent stopped; `pending` events wait in event_log.csv. */
  stopped(details: { pending: number }): void {
    this.#write(stoppedEvent(details));
  }

  /** 102: the agent could not start, with the service exit code of `error`. */
  startFailed(error: unknown): void {
    this.#write(startFailedEvent({ exitCode: serviceExitCode(error), error: errorText(error) }));
  }

  /**
   * config.ini was (re)read: `problems` is what stops sending (the read error, or the settings
   * it lacks), empty when it is usable. 200 once per distinct problem.
   */
  configChecked(problems: readonly string[]): void {
    const problem = problems.length > 0 ? problems.join("; ") : undefined;
    if (problem !== undefined && problem !== this.#configProblem) {
      this.#write(configErrorEvent({ message: problem }));
    }
    this.#configProblem = problem;
  }

  /**
   * Delivery's state changed: 201 when it pauses because the server refuses the URL or every
   * event alike (a missing setting is 200's), 202 once an event was sent again after such a pause. A
   * resume that the server answers with the same refusal (a health check passed, the event URL
   * is still wrong) is the same pause: neither a 202 nor a second 201.
   */
  deliveryChanged(
    state: { paused: DeliveryPause; lastError?: { message: string }; sent?: number },
    context: { serverUrl: string; pending: number },
  ): void {
    // A refused key is its own condition (206, src/agent/server_watch.ts), not a 201.
    const reason: PauseReason | undefined = state.paused === "misconfigured"
      ? "wrong url"
      : state.paused === "refusing" // the server refuses every event: the setup is at fault
      ? "other"
      : undefined;
    const sent = state.sent ?? 0;
    if (reason !== undefined && reason !== this.#pausedFor) {
      this.#pausedFor = reason;
      this.#sentAtPause = sent;
      this.#write(sendingPausedEvent({
        reason,
        message: state.lastError?.message ?? state.paused!,
        serverUrl: context.serverUrl,
      }));
    } else if (
      state.paused === null && this.#pausedFor !== undefined && sent > this.#sentAtPause
    ) {
      this.#pausedFor = undefined;
      this.#write(sendingResumedEvent({ pending: context.pending }));
    }
  }

  /**
   * A condition holds (`entry`, its 203 to 206) or not (undefined): the entry is written when it
   * starts to hold, the clearing entry (213 to 216) when it stops; nothing while it stays.
   */
  condition(condition: Condition, entry: SystemEvent | undefined): void {
    if (entry !== undefined && !this.#raised.has(condition)) {
      this.#raised.add(condition);
      this.#write(entry);
    } else if (entry === undefined && this.#raised.delete(condition)) {
      this.#write(conditionClearedEvent(condition));
    }
  }

  /** 300 (once until {@link SystemEvents.journalSaved}): event_log.csv refused a write. */
  journalRefused(details: { path: string; error: Error; held: number }): void {
    if (this.#journalRefused) return;
    this.#journalRefused = true;
    this.#write(journalUnwritableEvent({ ...details, error: details.error.message }));
  }

  /** The events held in memory reached event_log.csv: a later refusal is a new episode. */
  journalSaved(): void {
    this.#journalRefused = false;
  }

  /** 301: the journal set an unreadable event_log.csv aside and started a new one. */
  journalSetAside(details: JournalSetAside): void {
    this.#write(journalSetAsideEvent(details));
  }

  /** Writes one entry, redacted; a failure is logged once, never thrown. */
  #write(entry: SystemEvent): void {
    const log = this.#options.log;
    if (!log) return;
    const redacted = { ...entry, text: this.#options.redact(entry.text) };
    const error = reportTo(log, redacted);
    if (error) {
      if (!this.#failing) {
        this.#options.logLine(
          "error",
          `Cannot write event ${entry.id} to the Windows Event Log: ${
            this.#options.redact(error.message)
          }; the agent goes on (this is said once until a write succeeds again)`,
        );
      }
      this.#failing = true;
      return;
    }
    this.#failing = false;
    if (!this.#wrote) {
      this.#wrote = true;
      this.#options.logLine("info", `Event ${entry.id} written to the Windows Event Log`);
    } else {
      this.#options.logLine("debug", `Event ${entry.id} written to the Windows Event Log`);
    }
  }
}
