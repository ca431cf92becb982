/**
 * `--pending`: the events not yet sent, oldest first, read from another process (event_log.csv,
 * and status.json for the running agent's attempts at the one it is sending).
 *
 * @module
 */
import { join } from "node:path";
import { eventKey } from "../event.ts";
import { readPending } from "./journal_facts.ts";
import { agentRunning, statusOf } from "./status.ts";

/** One event not yet sent, for `--pending`. */
export interface PendingEvent {
  /** The event's time as recorded (RFC 3339, the configured zone). */
  time: string;
  type: string;
  user: string;
  /** Attempts by the running agent since it started (0: not tried yet by it). */
  attempts: number;
  lastError: string | null;
}

/** What `--pending` prints. */
export interface PendingReport {
  /** The oldest events not yet sent, oldest first, at most `PENDING_LISTED`. */
  events: PendingEvent[];
  /** Events not yet sent beyond those listed. */
  notListed: number;
  heldInMemory: number;
  note: string | null;
}

/** `--pending`: the events not yet sent, oldest first, and how many are held in memory. */
export async function pendingReport(configPath: string): Promise<PendingReport> {
  const dir = join(configPath, "..");
  const [journal, [status, statusError]] = await Promise.all([readPending(dir), statusOf(dir)]);
  const running = agentRunning(dir);
  const sending = running ? status?.sending : undefined;
  const events = journal.pending.map((event): PendingEvent => {
    const tried = sending?.key === eventKey(event) ? sending : undefined;
    return {
      time: event.timestamp,
      type: event.eventType,
      user: event.userName,
      attempts: tried?.attempts ?? 0,
      lastError: tried?.lastError ?? null,
    };
  });
  const note = [journal.note, statusError].filter((n) => n !== null).join("; ") || null;
  const notListed = (journal.pendingCount ?? 0) - events.length;
  return { events, notListed, heldInMemory: running ? status?.unsaved ?? 0 : 0, note };
}

/** The lines `--pending` prints. */
export function pendingLines(report: PendingReport): string[] {
  const lines: string[] = [];
  if (report.events.length === 0) lines.push("No event waits to be sent");
  else {
    const header = ["time", "type", "user", "attempts", "last error"];
    const rows = report.events.map((
      e,
    ) => [e.time, e.type, e.user, String(e.attempts), e.lastError ?? ""]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const row of [header, ...rows]) {
      lines.push(
        row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join("  ")
          .trimEnd(),
      );
    }
  }
  if (report.notListed > 0) {
    lines.push(
      `${report.notListed} more events wait in event_log.csv (the oldest ${report.events.length} are listed)`,
    );
  }
  if (report.heldInMemory > 0) {
    lines.push(
      `${report.heldInMemory} more events are held in memory: event_log.csv cannot be written`,
    );
  }
  if (report.note) lines.push(report.note);
  return lines;
}
