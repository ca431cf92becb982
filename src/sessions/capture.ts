/**
 * Event capture: turns a session change into the event that is journaled and sent, with the
 * values of the moment (user, computer name, primary IPv4, the time in the configured zone),
 * clipped to the server's column limits.
 *
 * @module
 */
import { eventTypeOf, formatTimestamp, type SessionEvent, UNKNOWN_USER } from "../event.ts";
import type { ReportedChange, SessionChange } from "../platform.ts";

/** The server's column limits for the values the agent captures (docs/server-contract.md, "Column limits"). */
export const COLUMN_LIMITS = { userName: 50, computerName: 50 } as const;

/**
 * `value` cut to at most `limit` characters as the server counts them (code points: the
 * database's column limits), never inside a surrogate pair; a lone surrogate (an ill-formed
 * Windows name) becomes U+FFFD first, so the CSV row and the JSON body carry the same text and
 * the server never sees a surrogate it cannot store.
 */
export function clip(value: string, limit: number): string {
  const wellFormed = value.toWellFormed();
  let count = 0;
  let end = 0;
  for (const char of wellFormed) {
    if (count === limit) return wellFormed.slice(0, end);
    count++;
    end += char.length;
  }
  return wellFormed;
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
