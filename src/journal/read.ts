/**
 * Reading a journal file without changing it (`--status`, `--pending`, tests): one pass of the
 * journal's own scanner over the file, so memory follows the scanner's chunk, not the file.
 *
 * @module
 */
import { type SessionEvent } from "../event.ts";
import { openRegular } from "../no_follow.ts";
import { HEADER_BYTES, isHeaderPrefix, JOURNAL_HEADER, startsWithHeader } from "./format.ts";
import { type ScannedRow, scanRows } from "./scan.ts";

/** Room for a UTF-8 BOM and a "\r" after the header. */
const HEAD_BYTES = HEADER_BYTES.length + 4;

/**
 * Hands each well-formed row of the journal at `path` to `onRow` (the row is valid only during
 * the call). A torn last line is left out and reported as `tornTail`; malformed complete rows
 * are left out.
 *
 * @throws {Error} When the header is not the journal's, the file is not UTF-8 or not valid CSV.
 * @throws {NotRegularFileError} When `path` is not a regular file.
 */
export async function scanJournal(
  path: string,
  onRow: (row: ScannedRow) => void,
): Promise<{ tornTail: boolean }> {
  using file = await openRegular(path, { read: true });
  const head = await readHead(file);
  if (!startsWithHeader(head)) {
    if (isHeaderPrefix(head)) return { tornTail: head.length > 0 };
    throw new Error(`Unrecognized header in the journal ${path}: expected "${JOURNAL_HEADER}"`);
  }
  const end = await scanRows(file, path, onRow);
  return { tornTail: end.validEnd < end.size };
}

/**
 * Reads a journal whole without changing it (tests and small files; see {@linkcode scanJournal}).
 *
 * @throws {Error} When the header is not the journal's, the file is not UTF-8 or not valid CSV.
 */
export async function readJournal(
  path: string,
): Promise<{ entries: { event: SessionEvent; status: number }[]; tornTail: boolean }> {
  const entries: { event: SessionEvent; status: number }[] = [];
  const { tornTail } = await scanJournal(path, (row) => {
    const [eventType, userName, computerName, ipAddress, timestamp] = row.fields();
    entries.push({
      event: { eventType, userName, computerName, ipAddress, timestamp },
      status: row.status,
    });
  });
  return { entries, tornTail };
}

/** The first bytes of `file`, enough to hold the header (fewer when the file is shorter). */
async function readHead(file: Deno.FsFile): Promise<Uint8Array> {
  const head = new Uint8Array(HEAD_BYTES);
  let filled = 0;
  while (filled < head.length) {
    const n = await file.read(head.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return head.subarray(0, filled);
}
