/**
 * A session event as the agent records it in event_log.csv and sends it to the server: its
 * types, its duplicate key and the send status the journal keeps for it.
 *
 * @module
 */
import type { SessionChangeType } from "./platform.ts";

/** The event types the server knows, spelled as it stores them: the one list of them. */
export const EVENT_TYPES = ["Logon", "Logoff", "Lock", "Unlock"] as const;

/** An event type the server knows. */
export type EventType = (typeof EVENT_TYPES)[number];

/** The marker recorded and sent when the user of a session could not be resolved. */
export const UNKNOWN_USER = "(unknown)";

/**
 * The values of event_log.csv's send_status column: 0 pending (not sent yet, or failed), 1 sent,
 * 2 sent on retry, 3 refused by the server for good (never resent).
 */
export const SendStatus = { Pending: 0, Sent: 1, SentOnRetry: 2, Rejected: 3 } as const;

/** A send_status value. */
export type SendStatusValue = (typeof SendStatus)[keyof typeof SendStatus];

/** The status of an event that is no longer pending: sent, sent on retry or refused. */
export type SettledStatus = Exclude<SendStatusValue, typeof SendStatus.Pending>;

/**
 * One event, with every value captured at event time. These five fields are the server's
 * duplicate key and the first five columns of event_log.csv: a retry resends them unchanged.
 */
export interface SessionEvent {
  eventType: EventType;
  userName: string;
  computerName: string;
  ipAddress: string;
  /** Whole-second RFC 3339 in the configured time zone, e.g. 2025-04-27T08:06:14+01:00. */
  timestamp: string;
}

/** Whether `value` is one of {@linkcode EVENT_TYPES}, spelled exactly. */
export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/** Maps a session change type to the event type the server stores. */
export function eventTypeOf(type: SessionChangeType): EventType {
  // The compiler checks here that every change type is an event type in lower case.
  const lower: Lowercase<EventType> = type;
  return EVENT_TYPES.find((eventType) => eventType.toLowerCase() === lower)!;
}

/**
 * The five fields of the server's duplicate key, in the order the server names them
 * (EventType, UserName, ComputerName, LocalIP, Timestamp), which is also the order of the first
 * five columns of event_log.csv.
 */
export function eventKeyFields(event: SessionEvent): [EventType, string, string, string, string] {
  return [event.eventType, event.userName, event.computerName, event.ipAddress, event.timestamp];
}

/** The server's duplicate key of `event` as one string: equal keys are one event to the server. */
export function eventKey(event: SessionEvent): string {
  return JSON.stringify(eventKeyFields(event));
}

/**
 * Formats an instant as whole-second RFC 3339 with the offset of `timeZone`, the way Go's
 * time.RFC3339 does (and so the original agent): a zero offset is written `Z`. The server answers
 * 400 to fractional seconds, so they are dropped (truncated, never rounded up).
 */
export function formatTimestamp(at: Temporal.Instant, timeZone: string): string {
  const zoned = at.toZonedDateTimeISO(timeZone).round({
    smallestUnit: "second",
    roundingMode: "trunc",
  });
  const local = zoned.toPlainDateTime().toString({ smallestUnit: "second" });
  return local + (zoned.offsetNanoseconds === 0 ? "Z" : zoned.offset.slice(0, 6));
}
