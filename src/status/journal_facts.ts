/**
 * What `--status` and `--pending` read from event_log.csv: the events not yet sent, the counts,
 * the times of the newest event recorded and of the newest one sent.
 *
 * @module
 */
import { join } from "node:path";
import { SendStatus, type SessionEvent } from "../event.ts";
import { readJournal } from "../journal/journal.ts";
import { errorText } from "../text.ts";

/** The facts of event_log.csv; null where it cannot be read. */
export interface JournalFacts {
  pending: SessionEvent[];
  lastRecordedAt: string | null;
  lastSentEventAt: string | null;
  total: number | null;
  rejected: number | null;
  note: string | null;
}

/** Reads event_log.csv in `dir`; never throws. */
export async function readPending(dir: string): Promise<JournalFacts> {
  try {
    const { entries, tornTail } = await readJournal(join(dir, "event_log.csv"));
    const sent = entries.findLast((e) =>
      e.status === SendStatus.Sent || e.status === SendStatus.SentOnRetry
    );
    return {
      lastRecordedAt: entries.at(-1)?.event.timestamp ?? null,
      lastSentEventAt: sent?.event.timestamp ?? null,
      pending: entries.filter((e) => e.status === SendStatus.Pending).map((e) => e.event),
      total: entries.length,
      rejected: entries.filter((e) => e.status === SendStatus.Rejected).length,
      note: tornTail ? "last line incomplete: repaired at the agent's next start" : null,
    };
  } catch (error) {
    const note = error instanceof Deno.errors.NotFound
      ? "event_log.csv does not exist yet"
      : errorText(error);
    return {
      pending: [],
      lastRecordedAt: null,
      lastSentEventAt: null,
      total: error instanceof Deno.errors.NotFound ? 0 : null,
      rejected: null,
      note,
    };
  }
}
