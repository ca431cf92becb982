/**
 * What `--status` and `--pending` read from event_log.csv: the counts, the oldest events not yet
 * sent, the times of the newest event recorded and of the newest one sent. The file is read as
 * a stream and only these are kept, so a journal of millions of pending rows after a long outage
 * costs no more memory than a small one.
 *
 * @module
 */
import { join } from "node:path";
import { SendStatus, type SessionEvent } from "../event.ts";
import { scanJournal } from "../journal/journal.ts";
import { errorText } from "../text.ts";

/** How many of the oldest pending events are kept for `--pending` to list. */
export const PENDING_LISTED = 1000;

/** The facts of event_log.csv; null where it cannot be read. */
export interface JournalFacts {
  /** The oldest pending events, at most `PENDING_LISTED` (or the limit asked for). */
  pending: SessionEvent[];
  /** How many events are pending (null when the file cannot be read). */
  pendingCount: number | null;
  lastRecordedAt: string | null;
  lastSentEventAt: string | null;
  total: number | null;
  rejected: number | null;
  note: string | null;
}

/** Reads event_log.csv in `dir`, keeping at most `listed` pending events; never throws. */
export async function readPending(dir: string, listed = PENDING_LISTED): Promise<JournalFacts> {
  const pending: SessionEvent[] = [];
  let [total, pendingCount, rejected] = [0, 0, 0];
  let lastRecordedAt: string | null = null;
  let lastSentEventAt: string | null = null;
  try {
    const { tornTail } = await scanJournal(join(dir, "event_log.csv"), (row) => {
      total++;
      lastRecordedAt = row.timestamp;
      if (row.status === SendStatus.Sent || row.status === SendStatus.SentOnRetry) {
        lastSentEventAt = row.timestamp;
      } else if (row.status === SendStatus.Rejected) rejected++;
      else if (pendingCount++ < listed) {
        const [eventType, userName, computerName, ipAddress, timestamp] = row.fields();
        pending.push({ eventType, userName, computerName, ipAddress, timestamp });
      }
    });
    const note = tornTail ? "last line incomplete: repaired at the agent's next start" : null;
    return { pending, pendingCount, lastRecordedAt, lastSentEventAt, total, rejected, note };
  } catch (error) {
    const missing = error instanceof Deno.errors.NotFound;
    return {
      pending: [],
      pendingCount: missing ? 0 : null,
      lastRecordedAt: null,
      lastSentEventAt: null,
      total: missing ? 0 : null,
      rejected: null,
      note: missing ? "event_log.csv does not exist yet" : errorText(error),
    };
  }
}
