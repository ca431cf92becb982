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
 * means the live file is intact, so `.next` is deleted. A new journal is made the same way: its
 * header is written to `.next`, which is then renamed to the live name. `.next` is not written
 * with `writeFileAtomic` (src/atomic_write.ts): that renames its file over the target at once,
 * while `.next` must wait until the live file is archived, and open() must find it by its fixed
 * name. The archives are shifted by src/rotation.ts; carrying pending rows over is the journal's.
 *
 * Only the live file is the queue: a pending row carried into the new live file keeps status 0
 * there, and its copy in the archive keeps the 0 it had when archived; the archive copy is history
 * and is never updated nor resent.
 *
 * @module
 */
import { dirname } from "node:path";
import { syncDirectory } from "./atomic_write.ts";
import {
  EVENT_TYPES,
  isEventType,
  SendStatus,
  type SendStatusValue,
  type SessionEvent,
  type SettledStatus,
} from "./event.ts";
import {
  HEADER_BYTES,
  openRepaired,
  pendingFile,
  rowText,
  startsWithHeader,
  statusByte,
  statusOffsetOf,
} from "./journal_format.ts";
import { archiveFile, archivePath, pruneArchives } from "./rotation.ts";
import { errorText } from "./text.ts";

export { JOURNAL_HEADER, readJournal, rowText } from "./journal_format.ts";
export { SendStatus, type SendStatusValue } from "./event.ts";

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

const encoder = new TextEncoder();

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
    if (!isEventType(event.eventType)) {
      // Such a row would be skipped as malformed at the next open, losing the event.
      return Promise.reject(
        new TypeError(
          `Invalid event type for the journal: "${event.eventType}" is not ${eventTypeList()}`,
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
  setStatus(entry: JournalEntry, status: SettledStatus): Promise<void> {
    if (
      status !== SendStatus.Sent && status !== SendStatus.SentOnRetry &&
      status !== SendStatus.Rejected
    ) {
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
      statusOffset: statusOffsetOf(this.#size + bytes.length),
      length: bytes.length,
    };
    this.#size += bytes.length;
    this.#rows.set(row.seq, row);
    this.#pendingCount++;
    this.#pendingBytes += row.length;
    return entryOf(row);
  }

  async #setStatus(seq: number, status: SettledStatus): Promise<void> {
    const row = this.#rows.get(seq);
    if (row === undefined) {
      throw new Error(
        `Cannot set the send status of journal entry ${seq}: its row is no longer in ${this.#path} (it was settled and rotated out)`,
      );
    }
    const file = this.#openFile();
    await file.seek(row.statusOffset, Deno.SeekMode.Start);
    await writeAll(file, Uint8Array.of(statusByte(status)));
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
    const carried = [...this.#rows.values()].filter((row) => row.status === SendStatus.Pending);
    const { content, layout } = pendingFile(carried.map((row) => row.event));
    let rotated = false;
    try {
      await writeFileSynced(next, content);
      // Closed before any rename: Windows cannot rename an open file.
      this.#file?.close();
      this.#file = null;
      await archiveFile(this.#path, { keep: this.#keep });
      rotated = true;
      await Deno.rename(next, this.#path);
      if (this.#keep === 0) await Deno.remove(archivePath(this.#path, 1));
      await syncFolder(this.#path);
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
    for (const [i, row] of carried.entries()) {
      // The rewritten row can be shorter than the loaded one (a "\r\n" file is rewritten "\n").
      Object.assign(row, layout[i]);
      this.#rows.set(row.seq, row);
    }
    this.#size = content.length;
    this.#pendingBytes = content.length - HEADER_BYTES.length; // the new file holds only pending rows
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
        await syncFolder(this.#path);
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
      await syncFolder(this.#path);
    }
    await pruneArchives(this.#path, { keep: this.#keep });
  }

  async #load(): Promise<void> {
    const { file, rows, size } = await openRepaired(this.#path, this.#warn);
    this.#file = file;
    this.#size = size;
    for (const parsedRow of rows) {
      const row: Row = { ...parsedRow, seq: this.#nextSeq++, recovered: true };
      this.#rows.set(row.seq, row);
      if (row.status === SendStatus.Pending) {
        this.#pendingCount++;
        this.#pendingBytes += row.length;
      }
    }
  }
}

function entryOf(row: Row): JournalEntry {
  return Object.freeze({
    event: Object.freeze({ ...row.event }),
    status: row.status,
    seq: row.seq,
    recovered: row.recovered,
  });
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

/**
 * Makes the renames beside `path` durable (not on Windows). A file system that refuses fsync on a
 * folder does not fail the journal: the renames still happened.
 */
async function syncFolder(path: string): Promise<void> {
  await syncDirectory(dirname(path)).catch(() => {});
}

/** The event types as a message lists them: "Logon, Logoff, Lock or Unlock". */
function eventTypeList(): string {
  return `${EVENT_TYPES.slice(0, -1).join(", ")} or ${EVENT_TYPES.at(-1)}`;
}
