/**
 * Event capture: turns a session change into the event that is journaled and sent, with the
 * values of the moment (user, computer name, primary IPv4, the time in the configured zone),
 * clipped to the server's column limits.
 *
 * @module
 */
import { eventTypeOf, formatTimestamp, type SessionEvent, UNKNOWN_USER } from "./event.ts";
import type { ReportedChange, SessionChange } from "./platform.ts";

/** The server's column limits for the values the agent captures (REFERENCE.md §1). */
export const COLUMN_LIMITS = { userName: 50, computerName: 50 } as const;

/** `value` cut to at most `limit` characters. */
export function clip(value: string, limit: number): string {
  return value.length > limit ? value.slice(0, limit) : value;
}

/** The host facts an event carries. */
export interface CapturedHost {
  readonly computerName: string;
  readonly ipv4: string;
}

/** The event for `change`: its values as they will be sent. */
export function captureEvent(
  change: ReportedChange,
  host: CapturedHost,
  timeZone: string,
): SessionEvent {
  return {
    eventType: eventTypeOf(change.type),
    userName: clip(change.user.trim() || UNKNOWN_USER, COLUMN_LIMITS.userName),
    computerName: clip(host.computerName, COLUMN_LIMITS.computerName),
    ipAddress: host.ipv4,
    timestamp: formatTimestamp(change.at, timeZone),
  };
}

/** The user of `change` as the local log names it (`DOMAIN\user`; the domain is never sent). */
export function describeUser(change: SessionChange): string {
  return change.domain ? `${change.domain}\\${change.user}` : change.user || UNKNOWN_USER;
}
