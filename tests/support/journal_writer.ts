/**
 * Child process of tests/journal_crash_test.ts: appends events and settles them in a loop until
 * it is killed, printing one line per acknowledged operation to stdout:
 * `W <message>` for each repair its open() made, `READY` once the journal is open, `A <id>` after append(event <id>) resolved, `S <id> <status>`
 * after setStatus resolved.
 *
 * Usage: deno run --allow-read --allow-write tests/support/journal_writer.ts <path> <first id> <rotation bytes>
 *
 * @module
 */
import type { SessionEvent } from "../../src/event.ts";
import { Journal, type JournalEntry } from "../../src/journal/journal.ts";

const EVENT_TYPES = ["Logon", "Logoff", "Lock", "Unlock"] as const;

/** The event with id `id`: its user name is `user-<id>`, the other fields vary with the id. */
export function eventFor(id: number): SessionEvent {
  const names = ["plain", 'Jürgen, O\'Neil "JJ"', "Zoë", "two\nlines", "=1+2", "a,b\r\nc"];
  const second = String(id % 60).padStart(2, "0");
  return {
    eventType: EVENT_TYPES[id % 4],
    userName: `user-${id}`,
    computerName: `PC-${names[id % names.length]}`,
    ipAddress: `10.0.${id % 256}.${(id * 7) % 256}`,
    timestamp: `2025-04-27T08:${String(Math.floor(id / 60) % 60).padStart(2, "0")}:${second}+01:00`,
  };
}

/** The status the writer gives event `id` when it settles it. */
export function statusFor(id: number): 1 | 2 | 3 {
  return (id % 3 + 1) as 1 | 2 | 3;
}

/** The id of a row, read back from its user name. */
export function idOf(event: SessionEvent): number {
  return Number(event.userName.slice("user-".length));
}

const encoder = new TextEncoder();

function say(line: string): void {
  // Synchronous write: once it returns, the line is in the pipe, whatever happens next.
  const bytes = encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

async function main(): Promise<void> {
  const [path, firstId, rotation] = Deno.args;
  const journal = await Journal.open(path, {
    rotationSizeBytes: Number(rotation),
    keep: 1_000_000,
    onWarning: (message) => say(`W ${message.replaceAll("\n", " ")}`),
  });
  say("READY");
  const settle = async (entry: JournalEntry) => {
    const id = idOf(entry.event);
    await journal.setStatus(entry, statusFor(id));
    say(`S ${id} ${statusFor(id)}`);
  };
  // Settle what a previous run left pending (each once: a second setStatus could find the row
  // rotated out).
  await Promise.all(journal.pending().map(settle));
  for (let id = Number(firstId);; id++) {
    const appended = journal.append(eventFor(id)).then((entry) => {
      say(`A ${id}`);
      return entry;
    });
    if (id % 2 === 0) {
      // Two operations in flight at once: the journal's queue must keep them apart.
      await Promise.all([
        appended,
        journal.pending().length > 0 ? settle(journal.pending()[0]) : 0,
      ]);
      // Keep the backlog small so most rotations archive settled rows and carry a few pending.
      while (journal.pendingCount > 3) await settle(journal.pending()[0]);
    } else {
      const entry = await appended;
      if (id % 5 !== 0) await settle(entry);
    }
  }
}

if (import.meta.main) await main();
