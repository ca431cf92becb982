/**
 * What the agent writes to the Windows Application log: one stable event ID per kind of event,
 * a level, and a one-line text. Platform-neutral (tested on Linux); the Windows writer is
 * src/windows/eventlog/app_event_log.ts, behind the small `SystemEventLog` interface of src/platform.ts.
 *
 * The IDs are in 1..1000: the event source's message file is Windows' own
 * `%SystemRoot%\System32\EventCreate.exe`, whose message table holds "%1" for exactly those IDs
 * (so Event Viewer shows the text as written, on every Windows, with no message DLL of ours).
 * Every ID and its meaning is listed in docs/monitoring.md ("Event Log").
 *
 * @module
 */
import type { EventLevel, SystemEventLog } from "../platform.ts";

/** The agent's event IDs. Stable: monitoring rules select on them. */
export const EVENT_IDS = {
  /** The agent started (service RUNNING). */
  started: 100,
  /** The agent stopped (service STOPPED, normally). */
  stopped: 101,
  /** The agent could not start; the text holds the service exit code. */
  startFailed: 102,
  /** config.ini cannot be read or holds an invalid value: events are recorded, not sent. */
  configError: 200,
  /** Sending is paused: server_url is wrong, or the server refuses every event alike. */
  sendingPaused: 201,
  /** Sending resumed after a pause. */
  sendingResumed: 202,
  /** The server has been unreachable for {@link UNREACHABLE_ALARM_MINUTES} minutes. */
  serverUnreachable: 203,
  /** Events older than {@link BACKLOG_ALARM_MINUTES} minutes wait to be sent. */
  backlogOld: 204,
  /** The server's certificate does not match tls_server_sha256. */
  pinMismatch: 205,
  /** The server refuses the API key (401 or 403). */
  keyRefused: 206,
  /** 203 cleared: the server answers again. */
  serverReachable: 213,
  /** 204 cleared: no event waiting is that old any more. */
  backlogCleared: 214,
  /** 205 cleared: the certificate matches the pin again. */
  pinMatched: 215,
  /** 206 cleared: the server accepts the API key again. */
  keyAccepted: 216,
  /** event_log.csv cannot be written: new events are held in memory only. */
  journalUnwritable: 300,
  /** event_log.csv was unreadable and set aside; a new one was started. */
  journalSetAside: 301,
} as const;

/** An event's kind: a key of {@link EVENT_IDS}. */
export type EventKind = keyof typeof EVENT_IDS;

/** One entry for the Application log. */
export interface SystemEvent {
  id: number;
  level: EventLevel;
  text: string;
}

/** The level of each kind. */
export const EVENT_LEVELS: Readonly<Record<EventKind, EventLevel>> = {
  started: "information",
  stopped: "information",
  startFailed: "error",
  configError: "error",
  sendingPaused: "warning",
  sendingResumed: "information",
  serverUnreachable: "warning",
  backlogOld: "warning",
  pinMismatch: "error",
  keyRefused: "error",
  serverReachable: "information",
  backlogCleared: "information",
  pinMatched: "information",
  keyAccepted: "information",
  journalUnwritable: "error",
  journalSetAside: "warning",
};

/** What the service exit codes mean (docs/administration.md, "Service controls and exit codes"). */
export const START_FAILURE_CAUSES: Readonly<Record<number, string>> = {
  1: "another agent is already running with the install folder (agent.lock is held)",
  2: "the install folder cannot be created, secured or written",
  3: "event_log.csv cannot be opened",
  10: "an unexpected error (see error.log)",
};

/** Longest text ReportEventW takes in one insertion string is 31,839 characters. */
export const MAX_TEXT = 31_000;

/**
 * The text as Event Viewer should show it: one insertion string, at most {@link MAX_TEXT}
 * characters, and no `%%<digits>` (Event Viewer would replace it with a parameter message).
 */
export function eventText(text: string): string {
  const safe = text.replace(/%%(?=\d)/g, "% %");
  return safe.length > MAX_TEXT ? `${safe.slice(0, MAX_TEXT - 1)}…` : safe;
}

function event(kind: EventKind, text: string): SystemEvent {
  return { id: EVENT_IDS[kind], level: EVENT_LEVELS[kind], text: eventText(text) };
}

/** The agent started. */
export function startedEvent(
  details: { version: string; serverUrl: string; installDir: string },
): SystemEvent {
  return event(
    "started",
    `User Session Monitor Agent ${details.version} started: server ${
      details.serverUrl || "(not set)"
    }, folder ${details.installDir}`,
  );
}

/** The agent stopped; `pending` events wait in event_log.csv for the next start. */
export function stoppedEvent(details: { pending: number }): SystemEvent {
  return event(
    "stopped",
    `User Session Monitor Agent stopped` +
      (details.pending > 0
        ? `: ${details.pending} event(s) not yet sent stay in event_log.csv and go at the next start`
        : ""),
  );
}

/** The agent could not start; `exitCode` is the service-specific exit code. */
export function startFailedEvent(details: { exitCode: number; error: string }): SystemEvent {
  const cause = START_FAILURE_CAUSES[details.exitCode] ?? "see error.log";
  return event(
    "startFailed",
    `User Session Monitor Agent could not start (service exit code ${details.exitCode}: ${cause}): ${details.error}`,
  );
}

/** config.ini cannot be used; the message names the file, line and fix (and never the key). */
export function configErrorEvent(details: { message: string }): SystemEvent {
  return event(
    "configError",
    `config.ini cannot be used: ${details.message}. Events are recorded in event_log.csv and sent once the file is fixed`,
  );
}

/** How long the server is unreachable before 203 is written. */
export const UNREACHABLE_ALARM_MINUTES = 30;
/** How old the oldest event waiting is before 204 is written (as `--status --max-backlog`). */
export const BACKLOG_ALARM_MINUTES = 60;

/**
 * A condition a monitoring rule watches: written once when it starts to hold, and once more (its
 * clearing entry) when it stops.
 */
export type Condition = "unreachable" | "backlog" | "pinMismatch" | "keyRefused";

const CLEARED: Readonly<Record<Condition, [EventKind, string]>> = {
  unreachable: ["serverReachable", "The server answers again"],
  backlog: [
    "backlogCleared",
    `No event waiting is older than ${BACKLOG_ALARM_MINUTES} minutes now`,
  ],
  pinMismatch: ["pinMatched", "The server's certificate matches tls_server_sha256 again"],
  keyRefused: ["keyAccepted", "The server accepts the API key again"],
};

/** The server has been unreachable since `since` (ISO 8601). */
export function serverUnreachableEvent(
  details: { serverUrl: string; since: string; message: string },
): SystemEvent {
  return event(
    "serverUnreachable",
    `The server ${details.serverUrl} has been unreachable for ${UNREACHABLE_ALARM_MINUTES} minutes or more (since ${details.since}): ${details.message}. Events are kept in event_log.csv and sent once it answers`,
  );
}

/** The oldest event waiting, recorded at `oldest`, is older than the alarm's age. */
export function backlogOldEvent(details: { oldest: string; pending: number }): SystemEvent {
  return event(
    "backlogOld",
    `Events older than ${BACKLOG_ALARM_MINUTES} minutes wait to be sent: the oldest was recorded at ${details.oldest}; ${details.pending} event(s) wait in event_log.csv`,
  );
}

/** The server's certificate does not match the pin: nothing is sent. */
export function pinMismatchEvent(details: { message: string }): SystemEvent {
  return event(
    "pinMismatch",
    `${details.message}. Nothing is sent until the certificate matches a pin in tls_server_sha256`,
  );
}

/** The server refuses the API key: nothing is sent. */
export function keyRefusedEvent(details: { message: string }): SystemEvent {
  return event(
    "keyRefused",
    `API key refused: ${details.message}. Events are kept in event_log.csv and sent once the key is right`,
  );
}

/** The clearing entry of `condition`. */
export function conditionClearedEvent(condition: Condition): SystemEvent {
  const [kind, text] = CLEARED[condition];
  return event(kind, text);
}

/** Why sending is paused. */
export type PauseReason = "wrong url" | "other";

/** Sending is paused until an administrator acts (a corrected server_url, a proxy removed). */
export function sendingPausedEvent(
  details: { reason: PauseReason; message: string; serverUrl: string },
): SystemEvent {
  const what = details.reason === "wrong url"
    ? `server_url ${details.serverUrl} does not lead to the server's API`
    : `the server at ${details.serverUrl} refuses the events`;
  return event(
    "sendingPaused",
    `Sending paused: ${what} (${details.message}). Events are kept in event_log.csv; fix config.ini (winagentUSM.exe --api-key or --url) and they are sent`,
  );
}

/** Sending resumed after a pause. */
export function sendingResumedEvent(details: { pending: number }): SystemEvent {
  return event("sendingResumed", `Sending resumed: ${details.pending} event(s) waiting`);
}

/** event_log.csv cannot be written; `held` events exist in memory only. */
export function journalUnwritableEvent(
  details: { path: string; error: string; held: number },
): SystemEvent {
  return event(
    "journalUnwritable",
    `${details.path} cannot be written: ${details.error}. ${details.held} event(s) are held in memory only until it can (free disk space, check the folder's permissions)`,
  );
}

/** What the journal says when it sets an unreadable event_log.csv aside. */
export interface JournalSetAside {
  /** event_log.csv. */
  path: string;
  /** Where the unreadable file now is. */
  asidePath: string;
  /** Why it could not be read. */
  reason: string;
}

/** event_log.csv was set aside (unreadable) and a new one started. */
export function journalSetAsideEvent(details: JournalSetAside): SystemEvent {
  return event(
    "journalSetAside",
    `${details.path} could not be read (${details.reason}) and was set aside as ${details.asidePath}; its readable unsent events were carried into a new event_log.csv and will be sent; rows that could not be read are only in the file set aside`,
  );
}

/**
 * Writes `entry` to `log`; never throws (the Event Log is a courtesy, not a duty). Returns the
 * error when the log refused the entry, for the caller to log.
 */
export function reportTo(log: SystemEventLog | undefined, entry: SystemEvent): Error | undefined {
  try {
    log?.report(entry.id, entry.level, entry.text);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
