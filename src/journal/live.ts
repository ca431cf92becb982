/**
 * The live event_log.csv read and written whole, at any size, without holding it in memory:
 * {@linkcode readLive} reads it once as a stream at open, keeping only its pending rows;
 * {@linkcode writeLive} writes the rows of a new live file (a rotation, a rebuild) in pieces.
 * The crash protocol around them (`.next`, the renames) is journal.ts's.
 *
 * @module
 */
import type { SendStatusValue, SessionEvent } from "../event.ts";
import { readHead, readWhole, writePiecesSynced } from "./files.ts";
import {
  type CarriedRow,
  eventOfKey,
  HEADER_BYTES,
  parseJournal,
  startsWithHeader,
  statusOffsetOf,
} from "./format.ts";
import { PendingRows } from "./pending.ts";
import type { PendingRow } from "./pending.ts";
import { type ScanEnd, scanRows } from "./scan.ts";
import { openRegular } from "../no_follow.ts";

/** What reads the live file's rows along with the journal's open. */
export interface JournalReader {
  /** One well-formed row, in file order (valid only during the call). */
  row(row: Pick<SessionEvent, "eventType" | "userName" | "timestamp">): void;
  /** Forget the rows given so far: the file is read another way (it must be repaired). */
  restart(): void;
}

/** A row of a live file being written: its five fields as CSV, its status, its pending row. */
export interface LiveEntry {
  key: string;
  status: SendStatusValue;
  mine?: PendingRow;
}

const encoder = new TextEncoder();

/**
 * Whether an append of `adding` bytes to a live file of `size` bytes rotates it first. Rotation moves the
 * settled rows to the archive and copies the pending ones (`pendingBytes`) into the new live
 * file, so it runs only when the file would outgrow the rotation size and the settled rows are
 * worth that copy: at least as many bytes as the pending rows, or, when the backlog is larger
 * than half the rotation size, half the rotation size and a quarter of the backlog. The live file
 * thus stays within the pending rows plus max(half the rotation size, a quarter of the backlog)
 * and one row, even while a backlog lasts for weeks, and a rotation copies at most four bytes
 * for each byte it moves out.
 */
export function rotationDue(
  file: { size: number; adding: number; pendingBytes: number; rotationSizeBytes: number },
): boolean {
  const { size, adding, pendingBytes, rotationSizeBytes } = file;
  if (rotationSizeBytes === 0 || size + adding <= rotationSizeBytes) return false;
  const settled = size - HEADER_BYTES.length - pendingBytes;
  const worth = Math.min(pendingBytes, Math.max(rotationSizeBytes / 2, pendingBytes / 4));
  return settled > 0 && settled >= worth;
}

/**
 * Opens the live file at `path` and reads it once as a stream: every well-formed row goes to
 * `reader`, the pending ones are kept (seq from `firstSeq` on), and a torn last line (`torn`
 * bytes after the last line end: an append that never completed) is cut off. Undefined, with the file closed
 * and nothing changed, when the file must be repaired first: it is not a regular file with the
 * journal's header, is not UTF-8 or valid CSV, or holds a status that cannot be written in place.
 */
export async function readLive(
  path: string,
  options: { reader: JournalReader; firstSeq: number },
): Promise<(ScanEnd & { file: Deno.FsFile; pending: PendingRows; torn: number }) | undefined> {
  const info = await Deno.lstat(path).catch(() => undefined);
  if (!info?.isFile || !startsWithHeader(await readHead(path, HEADER_BYTES.length + 4))) {
    return undefined;
  }
  const file = await openRegular(path, { read: true, write: true });
  const pending = new PendingRows();
  let seq = options.firstSeq;
  let repair = false;
  let end: ScanEnd | undefined;
  try {
    end = await scanRows(file, path, (row) => {
      repair ||= !row.inPlace;
      if (repair) return;
      options.reader.row(row);
      if (row.status !== 0) return;
      const { statusOffset, length } = row;
      pending.add({ seq: seq++, recovered: true, statusOffset, length }, row.keyBytes());
    });
  } catch {
    repair = true;
  }
  if (repair || end === undefined) {
    file.close();
    return undefined;
  }
  if (end.validEnd < end.size) {
    await file.truncate(end.validEnd);
    await file.syncData();
  }
  return { ...end, file, pending, torn: end.size - end.validEnd };
}

/**
 * Writes `entries` as a new journal file at `path` (header first, fdatasynced), in pieces.
 * Returns its pending rows, where each lies, and its size; a pending entry of the journal's own
 * (`mine`) keeps its seq, the others take seqs from `nextSeq` on.
 */
export async function writeLive(
  path: string,
  entries: Iterable<LiveEntry>,
  nextSeq: number,
): Promise<{ pending: PendingRows; size: number; nextSeq: number }> {
  const pending = new PendingRows();
  let size = HEADER_BYTES.length;
  let seq = nextSeq;
  const pieces = function* (): Iterable<Uint8Array> {
    yield HEADER_BYTES;
    for (const { key, status, mine } of entries) {
      const bytes = encoder.encode(`${key},${status}\n`);
      size += bytes.length;
      if (status === 0) {
        pending.add({
          seq: mine?.seq ?? seq++,
          recovered: mine?.recovered ?? true,
          statusOffset: statusOffsetOf(size),
          length: bytes.length,
        }, bytes.subarray(0, bytes.length - 3));
      }
      yield bytes;
    }
  };
  await writePiecesSynced(path, pieces());
  return { pending, size, nextSeq: seq };
}

/** A row the journal knows as its own when its file changed under it. */
export interface OwnRow extends CarriedRow {
  pending?: PendingRow;
}

/**
 * The rows a journal knows as its own when its file changed under it: the settled rows of the
 * file it wrote (read again from `file`, still open, when it can be), then its pending rows (from
 * memory: a truncated file no longer holds them).
 */
export async function ownRows(
  file: Deno.FsFile | null,
  path: string,
  pending: PendingRows,
): Promise<OwnRow[]> {
  const own: OwnRow[] = [];
  try {
    if (file !== null) {
      for (const row of parseJournal(await readWhole(file), path).rows) {
        if (row.status !== 0) own.push({ event: row.event, status: row.status });
      }
    }
  } catch {
    // Unreadable now: the pending rows in memory are what must not be lost.
  }
  for (const row of pending) own.push({ event: eventOfKey(row.key), status: 0, pending: row });
  return own;
}
