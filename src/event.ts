/**
 * A session event as the agent records it in event_log.csv and sends it to the server.
 *
 * @module
 */
import type { SessionChangeType } from "./platform.ts";

/** The event types the server knows, spelled as it stores them. */
export type EventType = "Logon" | "Logoff" | "Lock" | "Unlock";

/** The marker recorded and sent when the user of a session could not be resolved. */
export const UNKNOWN_USER = "(unknown)";

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

const EVENT_TYPES: Record<SessionChangeType, EventType> = {
  logon: "Logon",
  logoff: "Logoff",
  lock: "Lock",
  unlock: "Unlock",
};

/** Maps a session change type to the event type the server stores. */
export function eventTypeOf(type: SessionChangeType): EventType {
  return EVENT_TYPES[type];
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
