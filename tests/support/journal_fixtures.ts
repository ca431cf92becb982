/**
 * What the journal's unit tests share: events and rows.
 *
 * @module
 */
import { type SendStatusValue, type SessionEvent } from "../../src/event.ts";
import { JOURNAL_HEADER, rowText } from "../../src/journal/format.ts";

export const HEADER = JOURNAL_HEADER + "\n";

export function event(userName: string, second = 0): SessionEvent {
  return {
    eventType: "Logon",
    userName,
    computerName: "DESKTOP-5D51HM9",
    ipAddress: "192.168.66.34",
    timestamp: `2025-04-27T08:06:${String(second).padStart(2, "0")}+01:00`,
  };
}

export function row(e: SessionEvent, status: SendStatusValue): string {
  return rowText(e, status);
}
