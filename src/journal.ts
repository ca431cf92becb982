/**
 * The journal: event_log.csv, the agent's durable record of every session event and its queue of
 * events still to send.
 *
 * Format: UTF-8 without BOM, RFC 4180 quoting, "\n" line ends (Go encoding/csv's default, which
 * the original Go agent most likely used; Excel and every CSV reader accept them; "\r\n" is
 * accepted on reading), header `eventtype,username,hostname,ipaddress,timestamp,send_status`,
 * one row per event. send_status is 0 pending (not sent yet or failed), 1 sent, 2 sent on retry,
 * 3 rejected for good (never resent). It is always one digit and the last byte before the line end, so a status update is a one-byte
 * positional write: a SIGKILL cannot leave it half done.
 *
 * Crash safety: an append writes the whole row with one positional write and resolves after
 * fdatasync; a torn last line (a crash during that write) was never acknowledged, so open() cuts
 * it off. Rotation writes `<name>.next` (header and every pending row, in order), fdatasyncs it,
 * shifts the archives (`event_log.1.csv` is the newest), renames the live file to
 * `event_log.1.csv`, renames `.next` to the live name and fsyncs the directory (not on Windows).
 * open() finishes or undoes a rotation interrupted at any step: `.next` without a live file means
 * the live file was already archived, so `.next` becomes the live file; `.next` beside a live file
 * means the live file is intact, so `.next` is deleted.
 *
 * Only the live file is the queue: a pending row carried into the new live file keeps status 0
 * there, and its copy in the archive keeps the 0 it had when archived; the archive copy is history
 * and is never updated nor resent.
 *
 * @module
 */
import { basename, dirname, extname, join } from "node:path";
import { formatCsvRow, scanCsv } from "./csv.ts";
import type { EventType, SessionEvent } from "./event.ts";

/** The values of the send_status column. */
export const SendStatus = { Pending: 0, Sent: 1, SentOnRetry: 2, Rejected: 3 } as const;

/** A send_status value. */
export type SendStatusValue = 0 | 1 | 2 | 3;

/** The header line of event_log.csv, without its line end. */
export const JOURNAL_HEADER = "eventtype,username,hostname,ipaddress,timestamp,send_status";

/** One row of the live journal, as the journal hands it out. */
export interface JournalEntry {
  readonly event: SessionEvent;
  readonly status: SendStatusValue;
  /** Increasing in file order; stays the entry's identity across rotations. */
  readonly seq: number;
  /** Loaded from disk at open (so it may have been attempted before). */
  readonly recovered: boolean;
}

/** Options of {@linkcode Journal.open}. */
export interface JournalOptions {
  /** Rotate when an append would make the live file larger than this; 0 = never rotate. */
  rotationSizeBytes: number;
  /** Archives kept, default 5. */
  keep?: number;
  /** Receives what recovery and rotation had to repair or skip. */
  onWarning?: (message: string) => void;
}

const EVENT_TYPES: ReadonlySet<string> = new Set<EventType>(["Logon", "Logoff", "Lock", "Unlock"]);
const encoder = new TextEncoder();
const HEADER_BYTES = encoder.encode(JOURNAL_HEADER + "\n");
const DIGIT_ZERO = 0x30;

interface Row {
  event: SessionEvent;
  status: SendStatusValue;
  seq: number;
  recovered: boolean;
  /** Byte offset of the status digit in the live file. */
  statusOffset: number;
  /** Byte length of the row, line end included. */
  length: number;
}

interface ParsedRow {
  event: SessionEvent;
  status: SendStatusValue;
  statusOffset: number;
  length: number;
}

interface Parsed {
  rows: ParsedRow[];
  /** Byte length of the file up to the end of its last complete line. */
  validEnd: number;
  warnings: string[];
}

/**
 * The live event_log.csv, opened for appending events and updating their send status. All
 * operations run one at a time in call order, so concurrent calls never interleave bytes.
 */
export class Journal {
  readonly #path: string;
  readonly #rotationSizeBytes: number;
  readonly #keep: number;
  readonly #warn: (message: string) => void;
  #file: Deno.FsFile | null = null;
  #size = 0;
  /** Rows of the live file, in file order, by seq. */
  #rows = new Map<number, Row>();
  #pendingCount = 0;
  #pendingBytes = 0;
  #nextSeq = 1;
  /** No row below this seq is pending (rows never become pending again). */
  #pendingHint = 1;
  #queue: Promise<void> = Promise.resolve();
  #closing: Promise<void> | null = null;

  private constructor(path: string, options: JournalOptions) {
    if (!Number.isInteger(options.rotationSizeBytes) || options.rotationSizeBytes < 0) {
      throw new RangeError(
        `Invalid journal rotation size: ${options.rotationSizeBytes} is not a whole number of bytes >= 0`,
      );
    }
    const keep = options.keep ?? 5;
    if (!Number.isInteger(keep) || keep < 0) {
      throw new RangeError(`Invalid number of journal archives to keep: ${keep} is not >= 0`);
    }
    this.#path = path;
    this.#rotationSizeBytes = options.rotationSizeBytes;
    this.#keep = keep;
    this.#warn = options.onWarning ?? (() => {});
  }

  /**
   * Opens the journal at `path`: creates it with its header if missing, finishes or undoes an
   * interrupted rotation, and cuts off a torn last line (reported through `onWarning`).
   *
   * @throws {Error} When the file has another header, is not UTF-8 or is not valid CSV.
   */
  static async open(path: string, options: JournalOptions): Promise<Journal> {
    const journal = new Journal(path, options);
    await journal.#recoverFiles();
    await journal.#load();
    return journal;
  }

  /** The path of the live file. */
  get path(): string {
    return this.#path;
  }

  /** The number of rows with status 0 in the live file. */
  get pendingCount(): number {
    return this.#pendingCount;
  }

  /**
   * The oldest row with status 0, or undefined when none is pending. Amortized O(1): delivery
   * asks for it before every request, and a backlog can hold tens of thousands of rows.
   */
  oldestPending(): JournalEntry | undefined {
    if (this.#pendingCount === 0) return undefined;
    for (let seq = this.#pendingHint; seq < this.#nextSeq; seq++) {
      const row = this.#rows.get(seq);
      if (row?.status === SendStatus.Pending) {
        this.#pendingHint = seq;
        return entryOf(row);
      }
    }
    return undefined;
  }

  /** The rows with status 0, oldest first (file order). */
  pending(): JournalEntry[] {
    const entries: JournalEntry[] = [];
    for (const row of this.#rows.values()) {
      if (row.status === SendStatus.Pending) entries.push(entryOf(row));
    }
    return entries;
  }

  /**
   * Appends `event` as a pending row (rotating first when the live file would outgrow the
   * rotation size). Resolves only after the row is written and fdatasync'd.
   *
   * @throws {TypeError} When the event type is not one of the four the server knows.
   */
  append(event: SessionEvent): Promise<JournalEntry> {
    if (!EVENT_TYPES.has(event.eventType)) {
      // Such a row would be skipped as malformed at the next open, losing the event.
      return Promise.reject(
        new TypeError(
          `Invalid event type for the journal: "${event.eventType}" is not Logon, Logoff, Lock or Unlock`,
        ),
      );
    }
    return this.#enqueue(() => this.#append(event));
  }

  /**
   * Sets the send status of `entry`'s row with a one-byte write; durable (fdatasync) when it
   * resolves. `entry` stays valid across rotations as long as its row is in the live file.
   *
   * @throws {RangeError} When `status` is not 1, 2 or 3.
   * @throws {Error} When the entry's row is no longer in the live file.
   */
  setStatus(entry: JournalEntry, status: 1 | 2 | 3): Promise<void> {
    if (status !== 1 && status !== 2 && status !== 3) {
      return Promise.reject(
        new RangeError(`Invalid send status for the journal: ${status} is not 1, 2 or 3`),
      );
    }
    return this.#enqueue(() => this.#setStatus(entry.seq, status));
  }

  /** Closes the file after the operation in progress and those queued; idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#queue.then(() => {
      this.#file?.close();
      this.#file = null;
    });
    return this.#closing;
  }

  #enqueue<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closing !== null) {
      return Promise.reject(new Error(`Journal ${this.#path} is closed: open it again to use it`));
    }
    const result = this.#queue.then(operation);
    this.#queue = result.then(() => {}, () => {});
    return result;
  }

  async #append(event: SessionEvent): Promise<JournalEntry> {
    const bytes = encoder.encode(rowText(event, SendStatus.Pending));
    if (
      this.#rotationSizeBytes > 0 && this.#size + bytes.length > this.#rotationSizeBytes &&
      this.#rows.size > this.#pendingCount &&
      2 * this.#pendingBytes <= this.#size - HEADER_BYTES.length
    ) {
      // Rotating only when settled rows make up at least half of the rows: every pending row is
      // carried into the new file, so while a backlog (server unreachable) fills the file, rotating
      // would copy the backlog on every append without making the file smaller. The live file then
      // grows past the rotation size until the backlog is sent.
      await this.#rotate();
    }
    const file = this.#openFile();
    try {
      await file.seek(this.#size, Deno.SeekMode.Start);
      await writeAll(file, bytes);
      await file.syncData();
    } catch (error) {
      // Never leave a partial row that a later append would run into.
      await file.truncate(this.#size).catch(() => {});
      throw new Error(`Cannot append to the journal ${this.#path}: ${errorText(error)}`, {
        cause: error,
      });
    }
    const row: Row = {
      event: { ...event },
      status: SendStatus.Pending,
      seq: this.#nextSeq++,
      recovered: false,
      statusOffset: this.#size + bytes.length - 2,
      length: bytes.length,
    };
    this.#size += bytes.length;
    this.#rows.set(row.seq, row);
    this.#pendingCount++;
    this.#pendingBytes += row.length;
    return entryOf(row);
  }

  async #setStatus(seq: number, status: 1 | 2 | 3): Promise<void> {
    const row = this.#rows.get(seq);
    if (row === undefined) {
      throw new Error(
        `Cannot set the send status of journal entry ${seq}: its row is no longer in ${this.#path} (it was settled and rotated out)`,
      );
    }
    const file = this.#openFile();
    await file.seek(row.statusOffset, Deno.SeekMode.Start);
    await writeAll(file, Uint8Array.of(DIGIT_ZERO + status));
    await file.syncData();
    if (row.status === SendStatus.Pending) {
      this.#pendingCount--;
      this.#pendingBytes -= row.length;
    }
    row.status = status;
  }

  #openFile(): Deno.FsFile {
    if (this.#file === null) {
      throw new Error(`Journal ${this.#path} is not open: a failed rotation left it closed`);
    }
    return this.#file;
  }

  async #rotate(): Promise<void> {
    const next = this.#path + ".next";
    const carried: Row[] = [];
    const chunks: Uint8Array[] = [HEADER_BYTES];
    let size = HEADER_BYTES.length;
    const offsets = new Map<number, number>();
    for (const row of this.#rows.values()) {
      if (row.status !== SendStatus.Pending) continue;
      const bytes = encoder.encode(rowText(row.event, SendStatus.Pending));
      chunks.push(bytes);
      size += bytes.length;
      offsets.set(row.seq, size - 2);
      carried.push(row);
    }
    const content = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      content.set(chunk, at);
      at += chunk.length;
    }
    const archive = archivePath(this.#path, 1);
    let rotated = false;
    try {
      await writeFileSynced(next, content);
      // Closed before any rename: Windows cannot rename an open file.
      this.#file?.close();
      this.#file = null;
      await shiftArchives(this.#path, this.#keep);
      await Deno.rename(this.#path, archive);
      rotated = true;
      await Deno.rename(next, this.#path);
      if (this.#keep === 0) await Deno.remove(archive);
      await syncDirectory(dirname(this.#path));
    } catch (error) {
      this.#warn(`Rotation of the journal ${this.#path} failed: ${errorText(error)}`);
      // Put the files back into a state open() would accept, then carry on with the live file.
      if (rotated) {
        await Deno.rename(next, this.#path).catch(() => {});
      } else {
        await Deno.remove(next).catch(() => {});
      }
    }
    this.#file ??= await Deno.open(this.#path, { read: true, write: true });
    if (!rotated) return;
    this.#rows = new Map();
    for (const row of carried) {
      row.statusOffset = offsets.get(row.seq)!;
      // The rewritten row can be shorter than the loaded one (a "\r\n" file is rewritten "\n").
      row.length = encoder.encode(rowText(row.event, SendStatus.Pending)).length;
      this.#rows.set(row.seq, row);
    }
    this.#size = size;
    this.#pendingBytes = size - HEADER_BYTES.length; // the new file holds only pending rows
  }

  async #recoverFiles(): Promise<void> {
    const next = this.#path + ".next";
    const liveExists = await exists(this.#path);
    const nextExists = await exists(next);
    if (nextExists && liveExists) {
      await Deno.remove(next);
      this.#warn(
        `Removed ${next}: a rotation of ${this.#path} was interrupted before the live file was archived, which is intact`,
      );
      return;
    }
    if (nextExists) {
      // .next is renamed only once complete, but a crash while creating a new journal leaves a
      // .next that may be incomplete: its header tells.
      const head = await readHead(next, HEADER_BYTES.length + 1);
      if (startsWithHeader(head)) {
        await Deno.rename(next, this.#path);
        await syncDirectory(dirname(this.#path));
        this.#warn(
          `Finished an interrupted rotation of ${this.#path}: the live file was archived, ${next} became the live file`,
        );
        return;
      }
      await Deno.remove(next);
    }
    if (!liveExists) {
      await writeFileSynced(next, HEADER_BYTES);
      await Deno.rename(next, this.#path);
      await syncDirectory(dirname(this.#path));
    }
    await pruneArchives(this.#path, this.#keep);
  }

  async #load(): Promise<void> {
    let bytes = await Deno.readFile(this.#path);
    if (!startsWithHeader(bytes)) {
      if (bytes.length < HEADER_BYTES.length && isPrefix(bytes, HEADER_BYTES)) {
        // Not possible with the rotation protocol, but an empty file is easy to mend.
        await writeFileSynced(this.#path, HEADER_BYTES);
        this.#warn(`Rewrote the header of ${this.#path}: the file held only ${bytes.length} bytes`);
        bytes = HEADER_BYTES;
      } else {
        throw new Error(
          `Unrecognized header in the journal ${this.#path}: expected "${JOURNAL_HEADER}"; move the file aside to start a new one`,
        );
      }
    }
    const parsed = parseJournal(bytes, this.#path);
    for (const warning of parsed.warnings) this.#warn(warning);
    this.#file = await Deno.open(this.#path, { read: true, write: true });
    if (parsed.validEnd < bytes.length) {
      await this.#file.truncate(parsed.validEnd);
      await this.#file.syncData();
      this.#warn(
        `Truncated a torn last line of the journal ${this.#path}: removed ${
          bytes.length - parsed.validEnd
        } bytes of a row that was never acknowledged`,
      );
    }
    this.#size = parsed.validEnd;
    for (const parsedRow of parsed.rows) {
      const row: Row = { ...parsedRow, seq: this.#nextSeq++, recovered: true };
      this.#rows.set(row.seq, row);
      if (row.status === SendStatus.Pending) {
        this.#pendingCount++;
        this.#pendingBytes += row.length;
      }
    }
  }
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
    if (bytes.length < HEADER_BYTES.length && isPrefix(bytes, HEADER_BYTES)) {
      return { entries: [], tornTail: bytes.length > 0 };
    }
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
 * Returns the path of archive number `n` of the journal at `path`: event_log.csv → event_log.1.csv.
 */
export function archivePath(path: string, n: number): string {
  const ext = extname(path);
  return ext === "" ? `${path}.${n}` : `${path.slice(0, -ext.length)}.${n}${ext}`;
}

function parseJournal(bytes: Uint8Array, path: string): Parsed {
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
      record.fields.length !== 6 || !EVENT_TYPES.has(eventType) || !/^[0-3]$/.test(status)
    ) {
      warnings.push(
        `Ignored row ${
          index + 1
        } of the journal ${path}: expected 6 fields with a known event type and a send status 0-3`,
      );
      continue;
    }
    rows.push({
      event: { eventType: eventType as EventType, userName, computerName, ipAddress, timestamp },
      status: Number(status) as SendStatusValue,
      statusOffset: position - record.lineEnd - 1,
      length,
    });
  }
  return { rows, validEnd, warnings };
}

/** One line of event_log.csv (with its "\n"), as the journal writes it. */
export function rowText(event: SessionEvent, status: SendStatusValue): string {
  return formatCsvRow([
    event.eventType,
    event.userName,
    event.computerName,
    event.ipAddress,
    event.timestamp,
    String(status),
  ]) + "\n";
}

function entryOf(row: Row): JournalEntry {
  return Object.freeze({
    event: Object.freeze({ ...row.event }),
    status: row.status,
    seq: row.seq,
    recovered: row.recovered,
  });
}

function startsWithHeader(bytes: Uint8Array): boolean {
  if (isPrefix(HEADER_BYTES, bytes)) return true;
  const crlf = encoder.encode(JOURNAL_HEADER + "\r\n");
  return isPrefix(crlf, bytes);
}

/** True when `prefix` is a prefix of `bytes`. */
function isPrefix(prefix: Uint8Array, bytes: Uint8Array): boolean {
  if (prefix.length > bytes.length) return false;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== bytes[i]) return false;
  return true;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}

async function writeFileSynced(path: string, bytes: Uint8Array): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  await writeAll(file, bytes);
  await file.syncData();
}

async function readHead(path: string, length: number): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Makes renames in `dir` durable; skipped on Windows, where a directory cannot be opened. */
async function syncDirectory(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    using handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the renames still happened.
  }
}

/** The archive numbers present beside the journal at `path`, highest first. */
async function archiveNumbers(path: string): Promise<number[]> {
  const ext = extname(path);
  const stem = basename(path).slice(0, basename(path).length - ext.length);
  const numbers: number[] = [];
  for await (const entry of Deno.readDir(dirname(path))) {
    if (!entry.isFile || !entry.name.startsWith(stem + ".") || !entry.name.endsWith(ext)) continue;
    const middle = entry.name.slice(stem.length + 1, entry.name.length - ext.length);
    if (/^[1-9][0-9]*$/.test(middle)) numbers.push(Number(middle));
  }
  return numbers.sort((a, b) => b - a);
}

/**
 * Shifts archive n to n + 1, highest first so nothing is overwritten, deleting those past `keep`.
 * A crash part way leaves a gap in the numbers, which the next shift keeps; no archive is lost.
 */
async function shiftArchives(path: string, keep: number): Promise<void> {
  const dir = dirname(path);
  for (const n of await archiveNumbers(path)) {
    const from = join(dir, basename(archivePath(path, n)));
    if (n + 1 > keep) await Deno.remove(from);
    else await Deno.rename(from, archivePath(path, n + 1));
  }
}

async function pruneArchives(path: string, keep: number): Promise<void> {
  for (const n of await archiveNumbers(path)) {
    if (n > keep) await Deno.remove(archivePath(path, n));
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
