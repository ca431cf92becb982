/**
 * The format of event_log.csv (see the notes at the top of journal.ts): its header, the text of
 * one row, the parser that finds each row's byte offsets, and the repair a journal makes when it
 * opens a file (a header cut short, a torn last line).
 *
 * @module
 */
import { formatCsvRow, scanCsv, scanCsvRecord } from "./csv.ts";
import { parseRows } from "./scan.ts";
import {
  EVENT_TYPES,
  eventKeyFields,
  type EventType,
  isEventType,
  SendStatus,
  type SendStatusValue,
  type SessionEvent,
} from "../event.ts";

/** The header line of event_log.csv, without its line end. */
export const JOURNAL_HEADER = "eventtype,username,hostname,ipaddress,timestamp,send_status";

const encoder = new TextEncoder();

/** The header line as the journal writes it, "\n" included. */
export const HEADER_BYTES = encoder.encode(JOURNAL_HEADER + "\n");

const CRLF_HEADER_BYTES = encoder.encode(JOURNAL_HEADER + "\r\n");
/** A UTF-8 byte order mark, as Excel's "CSV UTF-8" puts at the start of a file it saves. */
const BOM = Uint8Array.of(0xef, 0xbb, 0xbf);
const DIGIT_ZERO = 0x30;
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A complete, well-formed row of a journal file. */
export interface ParsedRow {
  event: SessionEvent;
  status: SendStatusValue;
  /** Byte offset of the status digit in the file. */
  statusOffset: number;
  /** Byte length of the row, line end included. */
  length: number;
  /**
   * The status is one unquoted digit right before the line end, so a one-byte write at
   * `statusOffset` updates it; false for a row such as `...,"0"`, which must be rewritten.
   */
  inPlace: boolean;
}

/** A row as recovery carries it: its event and status. */
export interface CarriedRow {
  event: SessionEvent;
  status: SendStatusValue;
}

/** What {@linkcode parseJournal} found in a file. */
export interface ParsedJournal {
  rows: ParsedRow[];
  /** Byte length of the file up to the end of its last complete line. */
  validEnd: number;
  warnings: string[];
}

/** Why `event` cannot be a row (its type is not one of the four the server knows), or undefined. */
export function eventTypeError(event: SessionEvent): TypeError | undefined {
  if (isEventType(event.eventType)) return undefined;
  const types = `${EVENT_TYPES.slice(0, -1).join(", ")} or ${EVENT_TYPES.at(-1)}`;
  return new TypeError(`Invalid event type for the journal: "${event.eventType}" is not ${types}`);
}

/** Why `status` cannot be set on a row (it is not 1, 2 or 3), or undefined. */
export function settledStatusError(status: number): RangeError | undefined {
  if (status === SendStatus.Sent || status === SendStatus.SentOnRetry) return undefined;
  if (status === SendStatus.Rejected) return undefined;
  return new RangeError(`Invalid send status for the journal: ${status} is not 1, 2 or 3`);
}

/** One line of event_log.csv (with its "\n"), as the journal writes it. */
export function rowText(event: SessionEvent, status: SendStatusValue): string {
  return formatCsvRow([...eventKeyFields(event), String(status)]) + "\n";
}

/** The five fields of `event` as CSV: its row without `,<status>` and the line end. */
export function keyText(event: SessionEvent): string {
  return formatCsvRow(eventKeyFields(event));
}

/** The event whose five fields `key` holds as CSV (see {@linkcode keyText}). */
export function eventOfKey(key: string): SessionEvent {
  const fields = key.includes('"') ? scanCsvRecord(key, 0).fields : key.split(",");
  const [eventType, userName, computerName, ipAddress, timestamp] = fields;
  return { eventType: eventType as EventType, userName, computerName, ipAddress, timestamp };
}

/** The byte written for `status`: its digit, the last byte of a row before the line end. */
export function statusByte(status: SendStatusValue): number {
  return DIGIT_ZERO + status;
}

/** The offset of the status digit of a row written by {@linkcode rowText} that ends at `end`. */
export function statusOffsetOf(end: number): number {
  return end - 2;
}

/** Whether `bytes` begin with the journal's header and its line end ("\n" or "\r\n"). */
export function startsWithHeader(bytes: Uint8Array): boolean {
  const body = isPrefix(BOM, bytes) ? bytes.subarray(BOM.length) : bytes;
  return isPrefix(HEADER_BYTES, body) || isPrefix(CRLF_HEADER_BYTES, body);
}

/** Whether `bytes` are the start of the header cut short (empty included). */
export function isHeaderPrefix(bytes: Uint8Array): boolean {
  return bytes.length < HEADER_BYTES.length && isPrefix(bytes, HEADER_BYTES);
}

/**
 * Parses a journal file whose header was checked (a UTF-8 BOM before it is accepted): its
 * well-formed rows with their byte offsets, where its last complete line ends, and a warning for
 * each malformed row skipped. Only what follows the last line end is a torn row (an append
 * writes a whole row, line end last, in one write); a quote left open before it makes the file
 * invalid (it is moved aside whole) rather than cutting every row after it. (A torn row whose
 * name held a line break, which no Windows account name does, is treated the same way.)
 *
 * @throws {Error} When the file is not UTF-8 or not valid CSV.
 */
export function parseJournal(bytes: Uint8Array, path: string): ParsedJournal {
  const rows: ParsedRow[] = [];
  const { validEnd, warnings } = parseRows(bytes, path, (row) => {
    const [eventType, userName, computerName, ipAddress, timestamp] = row.fields();
    rows.push({
      event: { eventType, userName, computerName, ipAddress, timestamp },
      status: row.status,
      statusOffset: row.statusOffset,
      length: row.length,
      inPlace: row.inPlace,
    });
  });
  return { rows, validEnd, warnings };
}

/** True when `prefix` is a prefix of `bytes`. */
function isPrefix(prefix: Uint8Array, bytes: Uint8Array): boolean {
  if (prefix.length > bytes.length) return false;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== bytes[i]) return false;
  return true;
}

/**
 * Every row that can still be read from a damaged file, line by line: NUL bytes a truncation
 * left at a line's start are skipped, a line that is not UTF-8 or not a well-formed row is left
 * out (it stays in the file moved aside). A row spread over several lines by a quoted line
 * break cannot be told from damage and is left out likewise.
 */
export function salvageRows(bytes: Uint8Array): CarriedRow[] {
  const rows: CarriedRow[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) break; // a last line without its line end was never acknowledged
    const line = bytes.subarray(start, end);
    start = end + 1;
    let from = 0;
    while (from < line.length && line[from] === 0) from++;
    end = line.length;
    if (end > from && line[end - 1] === 0x0d) end--;
    const row = rowOfLine(line.subarray(from, end));
    if (row !== undefined) rows.push(row);
  }
  return rows;
}

function rowOfLine(line: Uint8Array): CarriedRow | undefined {
  let text: string;
  try {
    text = strictDecoder.decode(line);
  } catch {
    return undefined;
  }
  let records;
  try {
    records = scanCsv(text);
  } catch {
    return undefined;
  }
  if (records.length !== 1 || !records[0].closed) return undefined;
  const [eventType, userName, computerName, ipAddress, timestamp, status] = records[0].fields;
  if (records[0].fields.length !== 6 || !isEventType(eventType) || !/^[0-3]$/.test(status)) {
    return undefined;
  }
  return {
    event: { eventType, userName, computerName, ipAddress, timestamp },
    status: Number(status) as SendStatusValue,
  };
}
