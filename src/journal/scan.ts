/**
 * Reading event_log.csv once, as a stream, at any size: the file is read in chunks of bytes,
 * each chunk (cut after its last line end) decoded at once, and each row's byte offsets counted
 * from the text without encoding it again. Every well-formed row is handed to the caller and
 * none is kept here, so memory follows the chunk, not the file.
 *
 * The same row parser reads a journal held whole in memory ({@linkcode parseRows}), which the
 * recovery of a damaged file uses.
 *
 * @module
 */
import { scanCsvRecord } from "./csv.ts";
import { type EventType, isEventType, type SendStatusValue } from "../event.ts";
import { errorText } from "../text.ts";

/**
 * One well-formed row, as the scan hands it out: one object reused for every row, valid only
 * during the call.
 */
export interface ScannedRow {
  eventType: EventType;
  userName: string;
  timestamp: string;
  /** The five fields (the computer and the address are sliced only when asked for). */
  fields(): [EventType, string, string, string, string];
  status: SendStatusValue;
  /** Byte offset of the status digit in the file. */
  statusOffset: number;
  /** Byte length of the row, line end included. */
  length: number;
  /** The status is one unquoted digit right before the line end (a one-byte write sets it). */
  inPlace: boolean;
  /**
   * The row's bytes before `,<status>`: its five fields as CSV (valid when `inPlace`), a view
   * of the chunk being read (copy it to keep it).
   */
  keyBytes(): Uint8Array;
}

/** What a scan found besides the rows. */
export interface ScanEnd {
  /** Byte length of the file up to the end of its last complete line. */
  validEnd: number;
  /** Byte length of the file as read. */
  size: number;
  /** A warning per malformed row left out. */
  warnings: string[];
}

const CHUNK_BYTES = 1 << 16;
const LF = 0x0a;
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const STATUS = /^[0-3]$/;

/** The UTF-8 byte length of `text[from, to)`. */
function utf8Length(text: string, from: number, to: number): number {
  let bytes = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Where a parse of one decoded piece of a journal stands. */
interface Cursor {
  /** File offset of the piece's first byte. */
  base: number;
  /** Rows seen so far, the header included (for the warnings' row numbers). */
  index: number;
  path: string;
  warnings: string[];
}

/**
 * Parses the complete records of `text` (the decoded `bytes`, ending with a line end) and returns
 * how many bytes they take; a record whose quoted field is still open at the end is left for the
 * next piece. `header` skips the first record.
 */
function parsePiece(
  bytes: Uint8Array,
  text: string,
  cursor: Cursor,
  onRow: (row: ScannedRow) => void,
): number {
  const ascii = text.length === bytes.length;
  const row = new RowView(bytes, text);
  let i = 0;
  let byte = 0;
  let quote = -1;
  while (i < text.length) {
    if (quote < i && quote !== Infinity) {
      quote = text.indexOf('"', i);
      if (quote < 0) quote = Infinity;
    }
    const lf = text.indexOf("\n", i);
    let end: number;
    let lineEnd: number;
    let valid: boolean;
    if (quote > lf) {
      end = lf + 1;
      lineEnd = lf > i && text.charCodeAt(lf - 1) === 0x0d ? 2 : 1;
      valid = row.plain(i, end - lineEnd);
    } else {
      const record = scanCsvRecord(text, i);
      if (!record.closed) return byte;
      ({ end, lineEnd } = record);
      valid = row.quoted(record.fields);
    }
    const length = ascii ? end - i : utf8Length(text, i, end);
    byte += length;
    i = end;
    if (cursor.index++ === 0) continue; // the header
    if (!valid) {
      cursor.warnings.push(
        `Ignored row ${cursor.index} of the journal ${cursor.path}: expected 6 fields with a known event type and a send status 0-3`,
      );
      continue;
    }
    const statusAt = end - lineEnd - 1;
    row.inPlace = text.charCodeAt(statusAt - 1) === 0x2c &&
      text.charCodeAt(statusAt) === 0x30 + row.status;
    row.statusOffset = cursor.base + byte - lineEnd - 1;
    row.length = length;
    row.keyStart = byte - length;
    row.keyEnd = byte - lineEnd - 2;
    onRow(row);
  }
  return byte;
}

/** The row being handed out by {@linkcode parsePiece}. */
class RowView implements ScannedRow {
  eventType: EventType = "Logon";
  userName = "";
  timestamp = "";
  status: SendStatusValue = 0;
  statusOffset = 0;
  length = 0;
  inPlace = false;
  keyStart = 0;
  keyEnd = 0;
  #bytes: Uint8Array;
  #text: string;
  /** A row without quotes: where its commas lie; a row with quotes: its fields. */
  #commas = [0, 0, 0, 0, 0];
  #fields: string[] | undefined;

  constructor(bytes: Uint8Array, text: string) {
    this.#bytes = bytes;
    this.#text = text;
  }

  /** Reads a row without quotes at `text[start, end)`; false when it is malformed. */
  plain(start: number, end: number): boolean {
    const text = this.#text;
    this.#fields = undefined;
    let at = start - 1;
    for (let n = 0; n < 5; n++) {
      at = text.indexOf(",", at + 1);
      if (at < 0 || at >= end) return false;
      this.#commas[n] = at;
    }
    const [c1, c2, , c4, c5] = this.#commas;
    const status = text.charCodeAt(c5 + 1) - 0x30;
    if (c5 + 2 !== end || status < 0 || status > 3) return false;
    const type = text.slice(start, c1);
    if (!isEventType(type)) return false;
    this.eventType = type;
    this.userName = text.slice(c1 + 1, c2);
    this.timestamp = text.slice(c4 + 1, c5);
    this.status = status as SendStatusValue;
    return true;
  }

  /** Reads a row from the fields of a record with quotes; false when it is malformed. */
  quoted(fields: string[]): boolean {
    this.#fields = fields;
    const [eventType, userName, , , timestamp, status] = fields;
    if (fields.length !== 6 || !isEventType(eventType) || !STATUS.test(status)) return false;
    this.eventType = eventType;
    this.userName = userName;
    this.timestamp = timestamp;
    this.status = Number(status) as SendStatusValue;
    return true;
  }

  fields(): [EventType, string, string, string, string] {
    const [, c2, c3, c4] = this.#commas;
    const [computerName, ipAddress] = this.#fields?.slice(2, 4) ??
      [this.#text.slice(c2 + 1, c3), this.#text.slice(c3 + 1, c4)];
    return [this.eventType, this.userName, computerName, ipAddress, this.timestamp];
  }

  keyBytes(): Uint8Array {
    return this.#bytes.subarray(this.keyStart, this.keyEnd);
  }
}

function decodeStrict(bytes: Uint8Array, path: string): string {
  try {
    return strict.decode(bytes);
  } catch (error) {
    throw new Error(`Invalid journal ${path}: the file is not UTF-8`, { cause: error });
  }
}

function parseOrThrow(
  bytes: Uint8Array,
  cursor: Cursor,
  onRow: (row: ScannedRow) => void,
): number {
  const text = decodeStrict(bytes, cursor.path);
  try {
    return parsePiece(bytes, text, cursor, onRow);
  } catch (error) {
    throw new Error(`Invalid journal ${cursor.path}: ${errorText(error)}`, { cause: error });
  }
}

function unclosedQuote(cursor: Cursor): Error {
  return new Error(
    `Invalid journal ${cursor.path}: a quoted field opened in row ${
      cursor.index + 1
    } is never closed`,
  );
}

/**
 * Parses a journal held whole in `bytes` whose header was checked (a BOM before it included):
 * each well-formed row goes to `onRow`. Only what follows the last line end is a torn row; a
 * quote left open before it makes the file invalid.
 *
 * @throws {Error} When the file is not UTF-8 or not valid CSV.
 */
export function parseRows(
  bytes: Uint8Array,
  path: string,
  onRow: (row: ScannedRow) => void,
): ScanEnd {
  const body = bytes.subarray(0, bytes.lastIndexOf(LF) + 1);
  const cursor: Cursor = { base: 0, index: 0, path, warnings: [] };
  const used = parseOrThrow(body, cursor, onRow);
  if (used < body.length) throw unclosedQuote(cursor);
  return { validEnd: used, size: bytes.length, warnings: cursor.warnings };
}

/**
 * Reads the journal open as `file` from its start to its end in chunks, as {@linkcode parseRows}
 * does for a file held whole. The header is the first row (checked by the caller).
 *
 * @throws {Error} When the file is not UTF-8 or not valid CSV.
 */
export async function scanRows(
  file: Deno.FsFile,
  path: string,
  onRow: (row: ScannedRow) => void,
): Promise<ScanEnd> {
  await file.seek(0, Deno.SeekMode.Start);
  const cursor: Cursor = { base: 0, index: 0, path, warnings: [] };
  let buffer = new Uint8Array(CHUNK_BYTES);
  let filled = 0;
  for (;;) {
    if (filled === buffer.length) {
      const larger = new Uint8Array(buffer.length * 2); // one row longer than a chunk
      larger.set(buffer);
      buffer = larger;
    }
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
    const lastLf = buffer.subarray(0, filled).lastIndexOf(LF);
    if (lastLf < 0) continue;
    const used = parseOrThrow(buffer.subarray(0, lastLf + 1), cursor, onRow);
    buffer.copyWithin(0, used, filled);
    filled -= used;
    cursor.base += used;
  }
  if (buffer.subarray(0, filled).includes(LF)) throw unclosedQuote(cursor);
  return { validEnd: cursor.base, size: cursor.base + filled, warnings: cursor.warnings };
}
