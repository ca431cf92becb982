/**
 * The format of event_log.csv (see the notes at the top of journal.ts): its header, the text of
 * one row, the parser that finds each row's byte offsets, and the repair a journal makes when it
 * opens a file (a header cut short, a torn last line).
 *
 * @module
 */
import { formatCsvRow, scanCsv } from "./csv.ts";
import {
  eventKeyFields,
  isEventType,
  SendStatus,
  type SendStatusValue,
  type SessionEvent,
} from "./event.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import { errorText } from "./text.ts";

/** The header line of event_log.csv, without its line end. */
export const JOURNAL_HEADER = "eventtype,username,hostname,ipaddress,timestamp,send_status";

const encoder = new TextEncoder();

/** The header line as the journal writes it, "\n" included. */
export const HEADER_BYTES = encoder.encode(JOURNAL_HEADER + "\n");

const CRLF_HEADER_BYTES = encoder.encode(JOURNAL_HEADER + "\r\n");
const DIGIT_ZERO = 0x30;

/** A complete, well-formed row of a journal file. */
export interface ParsedRow {
  event: SessionEvent;
  status: SendStatusValue;
  /** Byte offset of the status digit in the file. */
  statusOffset: number;
  /** Byte length of the row, line end included. */
  length: number;
}

/** What {@linkcode parseJournal} found in a file. */
export interface ParsedJournal {
  rows: ParsedRow[];
  /** Byte length of the file up to the end of its last complete line. */
  validEnd: number;
  warnings: string[];
}

/** One line of event_log.csv (with its "\n"), as the journal writes it. */
export function rowText(event: SessionEvent, status: SendStatusValue): string {
  return formatCsvRow([...eventKeyFields(event), String(status)]) + "\n";
}

/** The byte written for `status`: its digit, the last byte of a row before the line end. */
export function statusByte(status: SendStatusValue): number {
  return DIGIT_ZERO + status;
}

/** The offset of the status digit of a row written by {@linkcode rowText} that ends at `end`. */
export function statusOffsetOf(end: number): number {
  return end - 2;
}

/**
 * The content of a new live file holding `events` as pending rows, in order, and where each row
 * lies in it (its status digit and its length).
 */
export function pendingFile(
  events: readonly SessionEvent[],
): { content: Uint8Array; layout: { statusOffset: number; length: number }[] } {
  const rows = events.map((event) => encoder.encode(rowText(event, SendStatus.Pending)));
  const content = new Uint8Array(
    rows.reduce((size, row) => size + row.length, HEADER_BYTES.length),
  );
  content.set(HEADER_BYTES);
  let end = HEADER_BYTES.length;
  const layout = rows.map((row) => {
    content.set(row, end);
    end += row.length;
    return { statusOffset: statusOffsetOf(end), length: row.length };
  });
  return { content, layout };
}

/**
 * Reads a journal without changing it (for `--status` and tests). A torn last line is left out
 * and reported as `tornTail`; malformed complete rows are left out.
 *
 * @throws {Error} When the header is not the journal's, the file is not UTF-8 or not valid CSV.
 */
export async function readJournal(
  path: string,
): Promise<{ entries: { event: SessionEvent; status: number }[]; tornTail: boolean }> {
  const bytes = await Deno.readFile(path);
  if (!startsWithHeader(bytes)) {
    if (isHeaderPrefix(bytes)) return { entries: [], tornTail: bytes.length > 0 };
    throw new Error(
      `Unrecognized header in the journal ${path}: expected "${JOURNAL_HEADER}"`,
    );
  }
  const parsed = parseJournal(bytes, path);
  return {
    entries: parsed.rows.map(({ event, status }) => ({ event, status })),
    tornTail: parsed.validEnd < bytes.length,
  };
}

/**
 * Reads the journal at `path` for a journal that opens it, repairing what a crash can leave:
 * a file holding only part of the header gets the whole header, a torn last line (never
 * acknowledged) is cut off. Each repair and each skipped malformed row is reported to `warn`.
 * Returns the file opened for reading and writing, its rows and its size.
 *
 * @throws {Error} When the file has another header, is not UTF-8 or is not valid CSV.
 */
export async function openRepaired(
  path: string,
  warn: (message: string) => void,
): Promise<{ file: Deno.FsFile; rows: ParsedRow[]; size: number }> {
  let bytes = await Deno.readFile(path);
  if (!startsWithHeader(bytes)) {
    if (!isHeaderPrefix(bytes)) {
      throw new Error(
        `Unrecognized header in the journal ${path}: expected "${JOURNAL_HEADER}"; move the file aside to start a new one`,
      );
    }
    // Not possible with the rotation protocol, but an empty file is easy to mend.
    await writeFileAtomic(path, HEADER_BYTES);
    warn(`Rewrote the header of ${path}: the file held only ${bytes.length} bytes`);
    bytes = HEADER_BYTES;
  }
  const parsed = parseJournal(bytes, path);
  for (const warning of parsed.warnings) warn(warning);
  const file = await Deno.open(path, { read: true, write: true });
  if (parsed.validEnd < bytes.length) {
    await file.truncate(parsed.validEnd);
    await file.syncData();
    warn(
      `Truncated a torn last line of the journal ${path}: removed ${
        bytes.length - parsed.validEnd
      } bytes of a row that was never acknowledged`,
    );
  }
  return { file, rows: parsed.rows, size: parsed.validEnd };
}

/** Whether `bytes` begin with the journal's header and its line end ("\n" or "\r\n"). */
export function startsWithHeader(bytes: Uint8Array): boolean {
  return isPrefix(HEADER_BYTES, bytes) || isPrefix(CRLF_HEADER_BYTES, bytes);
}

/** Whether `bytes` are the start of the header cut short (empty included). */
function isHeaderPrefix(bytes: Uint8Array): boolean {
  return bytes.length < HEADER_BYTES.length && isPrefix(bytes, HEADER_BYTES);
}

/**
 * Parses a journal file whose header was checked: its well-formed rows with their byte offsets,
 * where its last complete line ends, and a warning for each malformed row skipped.
 *
 * @throws {Error} When the file is not UTF-8 or not valid CSV.
 */
function parseJournal(bytes: Uint8Array, path: string): ParsedJournal {
  // Everything after the last LF is a torn line; decode only up to it, strictly, so byte
  // offsets computed from the text are exact.
  const lastLf = bytes.lastIndexOf(0x0a);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(0, lastLf + 1),
    );
  } catch (error) {
    throw new Error(
      `Invalid journal ${path}: the file is not UTF-8; move it aside to start a new one`,
      { cause: error },
    );
  }
  let records;
  try {
    records = scanCsv(text);
  } catch (error) {
    throw new Error(
      `Invalid journal ${path}: ${errorText(error)}; move it aside to start a new one`,
      {
        cause: error,
      },
    );
  }
  const rows: ParsedRow[] = [];
  const warnings: string[] = [];
  let position = 0;
  let validEnd = 0;
  for (const [index, record] of records.entries()) {
    const length = encoder.encode(text.slice(record.start, record.end)).length;
    if (!record.closed || record.lineEnd === 0) break; // torn: an unclosed quote at the end
    position += length;
    validEnd = position;
    if (index === 0) continue; // the header
    const [eventType, userName, computerName, ipAddress, timestamp, status] = record.fields;
    if (
      record.fields.length !== 6 || !isEventType(eventType) || !/^[0-3]$/.test(status)
    ) {
      warnings.push(
        `Ignored row ${
          index + 1
        } of the journal ${path}: expected 6 fields with a known event type and a send status 0-3`,
      );
      continue;
    }
    rows.push({
      event: { eventType, userName, computerName, ipAddress, timestamp },
      status: Number(status) as SendStatusValue,
      statusOffset: position - record.lineEnd - 1,
      length,
    });
  }
  return { rows, validEnd, warnings };
}

/** True when `prefix` is a prefix of `bytes`. */
function isPrefix(prefix: Uint8Array, bytes: Uint8Array): boolean {
  if (prefix.length > bytes.length) return false;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== bytes[i]) return false;
  return true;
}
