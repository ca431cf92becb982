/**
 * The journal: event_log.csv, the agent's durable record of every session event and its queue of
 * events still to send.
 *
 * Format: UTF-8 without BOM, RFC 4180 quoting, "\n" line ends (Go encoding/csv's default, which
 * the original Go agent most likely used; Excel and every CSV reader accept them; "\r\n" is
 * accepted on reading), header `eventtype,username,hostname,ipaddress,timestamp,send_status`,
 * one row per event. send_status is 0 pending (not sent yet or failed), 1 sent, 2 sent on retry,
 * 3 rejected for good (never resent). It is always one digit and the last byte before the line
 * end, so a status update is a one-byte positional write: a SIGKILL cannot leave it half done. A
 * UTF-8 BOM before the header (Excel's "CSV UTF-8") is accepted.
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
 * name. src/log/rotation.ts shifts the archives; carrying pending rows over is the journal's.
 *
 * A file the journal did not write as it is (recovery.ts): one that cannot be read at
 * open is moved aside (`event_log.unreadable-<time>.csv`) and its readable pending rows are
 * carried into a new one; one whose status cannot be written in place (`,"0"`) is rewritten
 * whole; before every write the open file is compared with the path (identity and size), and a
 * file replaced, moved, truncated or extended meanwhile is rebuilt from what the path holds plus
 * every pending row of the journal. Each of these goes through `.next` like a rotation.
 *
 * Memory: open() reads the live file once as a stream, handing each row to a JournalReader (the
 * open-sessions view) and keeping only the pending rows (pending.ts). Rotation runs when
 * settled rows are worth the copy of the pending ones (live.ts, rotationDue).
 *
 * Only the live file is the queue: a pending row carried into the new live file keeps status 0
 * there, and its copy in the archive keeps the 0 it had when archived; the archive copy is history
 * and is never updated nor resent.
 *
 * @module
 */
import { basename } from "node:path";
import { systemClock } from "../clock.ts";
import {
  SendStatus,
  type SendStatusValue,
  type SessionEvent,
  type SettledStatus,
} from "../event.ts";
import { recoverRotation, syncFolder, writeAll } from "./files.ts";
import {
  eventOfKey,
  eventTypeError,
  keyText,
  settledStatusError,
  statusByte,
  statusOffsetOf,
} from "./format.ts";
import {
  type JournalReader,
  type LiveEntry,
  type OwnRow,
  ownRows,
  readLive,
  rotationDue,
  writeLive,
} from "./live.ts";
import { type PendingRow, PendingRows } from "./pending.ts";
import {
  asidePath,
  type CarriedRow,
  changeOf,
  inspectJournal,
  type RebuildPlan,
  rebuildPlan,
} from "./recovery.ts";
import { openRegular } from "../no_follow.ts";
import { archiveFile, archivePath, pruneArchives } from "../log/rotation.ts";
import { errorText } from "../text.ts";

export { JOURNAL_HEADER, rowText } from "./format.ts";
export { readJournal, scanJournal } from "./read.ts";
export { SendStatus, type SendStatusValue } from "../event.ts";
export type { JournalReader } from "./live.ts";

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
  /** The wall clock, for the name of a file moved aside (default: the system clock's). */
  now?: () => number;
  /** An unreadable event_log.csv was moved aside (the agent reports it: Event Log 301). */
  onSetAside?: (details: { path: string; asidePath: string; reason: string }) => void;
  /** Receives every row of the live file as open() reads it (the open-sessions view). */
  reader?: JournalReader;
}

const encoder = new TextEncoder();

/**
 * The live event_log.csv, opened for appending events and updating their send status. All
 * operations run one at a time in call order, so concurrent calls never interleave bytes.
 */
export class Journal {
  readonly #path: string;
  readonly #rotationSizeBytes: number;
  readonly #keep: number;
  readonly #warn: (message: string) => void;
  readonly #onSetAside: NonNullable<JournalOptions["onSetAside"]>;
  readonly #now: () => number;
  readonly #reader: JournalReader;
  #file: Deno.FsFile | null = null;
  #size = 0;
  /** The pending rows of the live file, in file order. */
  #pending = new PendingRows();
  #nextSeq = 1;
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
    this.#onSetAside = options.onSetAside ?? (() => {});
    this.#now = options.now ?? systemClock.wallNow;
    this.#reader = options.reader ?? { row: () => {}, restart: () => {} };
  }

  /**
   * Opens the journal at `path`: creates it with its header if missing, finishes or undoes an
   * interrupted rotation, cuts off a torn last line, rewrites a file whose status digits cannot
   * be written in place, and moves an unusable file aside carrying its readable pending rows
   * into a new one (each reported through `onWarning`; see recovery.ts).
   *
   * @throws {Error} Only when the folder refuses the files (permissions, a full disk).
   */
  static async open(path: string, options: JournalOptions): Promise<Journal> {
    const journal = new Journal(path, options);
    await recoverRotation(path, journal.#warn);
    await pruneArchives(path, { keep: journal.#keep });
    await journal.#load();
    return journal;
  }

  /** The path of the live file. */
  get path(): string {
    return this.#path;
  }

  /** The number of rows with status 0 in the live file. */
  get pendingCount(): number {
    return this.#pending.count;
  }

  /** The oldest row with status 0, or undefined when none is pending. */
  oldestPending(): JournalEntry | undefined {
    const row = this.#pending.first();
    return row && entryOf(row);
  }

  /** The rows with status 0, oldest first (file order). */
  pending(): JournalEntry[] {
    return [...this.pendingEntries()];
  }

  /**
   * The rows with status 0 from the oldest on, each made as the walk reaches it: a caller that
   * stops early pays only for the rows it looked at.
   */
  *pendingEntries(): IterableIterator<JournalEntry> {
    for (const row of this.#pending) yield entryOf(row);
  }

  /**
   * Appends `event` as a pending row (rotating first when the live file would outgrow the
   * rotation size). Resolves only after the row is written and fdatasync'd.
   *
   * @throws {TypeError} When the event type is not one of the four the server knows.
   */
  append(event: SessionEvent): Promise<JournalEntry> {
    // A row of another type would be skipped as malformed at the next open, losing the event.
    const invalid = eventTypeError(event);
    return invalid ? Promise.reject(invalid) : this.#enqueue(() => this.#append(event));
  }

  /**
   * Sets the send status of `entry`'s row with a one-byte write; durable (fdatasync) when it
   * resolves. `entry` stays valid across rotations as long as its row is in the live file.
   *
   * @throws {RangeError} When `status` is not 1, 2 or 3.
   * @throws {Error} When the entry's row is no longer in the live file.
   */
  setStatus(entry: JournalEntry, status: SettledStatus): Promise<void> {
    const invalid = settledStatusError(status);
    return invalid
      ? Promise.reject(invalid)
      : this.#enqueue(() => this.#setStatus(entry.seq, status));
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
    await this.#checkFile();
    const key = keyText(event);
    const bytes = encoder.encode(`${key},${SendStatus.Pending}\n`);
    const due = rotationDue({
      size: this.#size,
      adding: bytes.length,
      pendingBytes: this.#pending.bytes,
      rotationSizeBytes: this.#rotationSizeBytes,
    });
    if (due) {
      await this.#rotate();
      await this.#checkFile(); // a failed rotation closed the file: rebuild it from the disk
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
    const row = {
      seq: this.#nextSeq++,
      recovered: false,
      statusOffset: statusOffsetOf(this.#size + bytes.length),
      length: bytes.length,
    };
    this.#size += bytes.length;
    this.#pending.add(row, bytes.subarray(0, bytes.length - 3)); // the row without ",0\n"
    return entryOf({ ...row, key }, event);
  }

  async #setStatus(seq: number, status: SettledStatus): Promise<void> {
    await this.#checkFile();
    const current = this.#pending.get(seq);
    if (current === undefined) {
      throw new Error(
        `Cannot set the send status of journal entry ${seq}: its row is no longer in ${this.#path} as a pending row (it was settled, and may have been rotated out)`,
      );
    }
    const file = this.#openFile();
    await file.seek(current.statusOffset, Deno.SeekMode.Start);
    await writeAll(file, Uint8Array.of(statusByte(status)));
    await file.syncData();
    this.#pending.remove(seq);
  }

  #openFile(): Deno.FsFile {
    if (this.#file === null) {
      throw new Error(`Journal ${this.#path} is not open: a failed rotation left it closed`);
    }
    return this.#file;
  }

  async #rotate(): Promise<void> {
    const carried = function* (rows: PendingRows): Iterable<LiveEntry> {
      for (const row of rows) yield { key: row.key, status: SendStatus.Pending, mine: row };
    };
    try {
      await this.#replaceLive(carried(this.#pending), async () => {
        await archiveFile(this.#path, { keep: this.#keep });
        if (this.#keep === 0) await Deno.remove(archivePath(this.#path, 1));
      });
    } catch (error) {
      this.#warn(`Rotation of the journal ${this.#path} failed: ${errorText(error)}`);
      // Put the files back into a state open() would accept; the next write rebuilds the journal
      // from them (#checkFile), whichever step failed.
      const next = this.#path + ".next";
      const live = await Deno.lstat(this.#path).then(() => true, () => false);
      if (live) await Deno.remove(next).catch(() => {});
      else await Deno.rename(next, this.#path).catch(() => {});
      // The most common failure (a full disk writing .next) comes before anything is moved: the
      // open file is then still the live one, and it stays in use (it grows past the rotation
      // size, as with a backlog) instead of rebuilding the whole journal at every write.
      if (this.#file !== null && changeOf(this.#file, this.#path, this.#size) === undefined) return;
      this.#file?.close();
      this.#file = null;
    }
  }

  async #load(): Promise<void> {
    if (await this.#scanLive()) return;
    // The file must be repaired (an unusable file, a quoted status, a header cut short): read it
    // whole, the way recovery does, and give the reader the rows of the file made from it.
    this.#reader.restart();
    const found = await inspectJournal(this.#path);
    if (found.kind !== "readable") {
      const plan = rebuildPlan(found, []);
      for (const { row } of plan.entries) this.#reader.row(row.event);
      return await this.#rebuild(plan);
    }
    for (const warning of found.warnings) this.#warn(warning);
    for (const row of found.rows) this.#reader.row(row.event);
    await this.#replaceLive(found.rows.map(liveEntryOf));
    if (found.rows.some((row) => !row.inPlace)) {
      this.#warn(
        `Rewrote the journal ${this.#path}: a send status was not one unquoted digit (e.g. "0" in quotes), so it could not be updated in place; every row was kept`,
      );
    }
  }

  /**
   * Opens a live file that needs no repair but the cut of a torn last line (readLive). False
   * (nothing changed) when the file must be repaired.
   */
  async #scanLive(): Promise<boolean> {
    const live = await readLive(this.#path, { reader: this.#reader, firstSeq: this.#nextSeq });
    if (live === undefined) return false;
    for (const warning of live.warnings) this.#warn(warning);
    if (live.torn > 0) {
      this.#warn(
        `Truncated a torn last line of the journal ${this.#path}: removed ${live.torn} bytes of a row that was never acknowledged`,
      );
    }
    this.#file = live.file;
    this.#pending = live.pending;
    this.#nextSeq += live.pending.count;
    this.#size = live.validEnd;
    return true;
  }

  /**
   * Before every write: the file open must still be the one at the path, with the size this
   * journal wrote. Otherwise (`sed -i`, an editor or `mv` replaced it, `: >` or copytruncate cut
   * it, another program appended to it) the journal is rebuilt from what the path holds now and
   * every pending event of its own (recovery.ts, mergeRows), so nothing is written into
   * a deleted file or at an offset past the end.
   */
  async #checkFile(): Promise<void> {
    const reason = this.#file === null
      ? "it was not open after a failed rotation"
      : changeOf(this.#file, this.#path, this.#size);
    if (reason === undefined) return;
    const plan = rebuildPlan(
      await inspectJournal(this.#path),
      await ownRows(this.#file, this.#path, this.#pending),
    );
    await this.#rebuild(plan);
    this.#warn(
      `The journal ${this.#path} changed while the agent ran (${reason}): rebuilt it from the ${plan.fromFile} rows the file now holds and ${
        plan.entries.length - plan.fromFile
      } pending events of the agent it lacked; no pending event was lost`,
    );
  }

  async #rebuild(plan: RebuildPlan<OwnRow>): Promise<void> {
    const entries = plan.entries.map(({ row, mine }) => ({
      ...liveEntryOf(row),
      mine: mine?.pending,
    }));
    if (plan.aside === undefined) await this.#replaceLive(entries);
    else await this.#setAside(entries, plan.aside);
  }

  /** Replaces the live file by `entries`, the file at the path moved aside (see #replaceLive). */
  async #setAside(entries: LiveEntry[], unusable: string): Promise<void> {
    const aside = await asidePath(this.#path, this.#now());
    await this.#replaceLive(entries, () => Deno.rename(this.#path, aside));
    const pending = entries.filter((entry) => entry.status === SendStatus.Pending).length;
    this.#warn(
      `Moved the unreadable journal ${this.#path} to ${aside} (${unusable}); carried its ${pending} readable pending events into a new ${
        basename(this.#path)
      } and went on recording`,
    );
    this.#onSetAside({ path: this.#path, asidePath: aside, reason: unusable });
  }

  /**
   * Makes `entries` the live file through the journal's safe path: they are written to `.next`
   * (in pieces, never the whole file in memory) and fdatasynced, the file at the path is moved
   * away when `moveLive` is given (archived by a rotation, set aside when unusable), and `.next`
   * is renamed to the live name, so a crash at any step leaves what open() recovers
   * (recoverRotation). Without `moveLive` the rename replaces the file at the path. A pending
   * entry of the journal's own (`mine`) keeps its seq.
   */
  async #replaceLive(entries: Iterable<LiveEntry>, moveLive?: () => Promise<void>): Promise<void> {
    const next = this.#path + ".next";
    const written = await writeLive(next, entries, this.#nextSeq);
    // Closed before any rename: Windows cannot rename an open file.
    this.#file?.close();
    this.#file = null;
    await moveLive?.();
    await Deno.rename(next, this.#path);
    await syncFolder(this.#path);
    this.#file = await openRegular(this.#path, { read: true, write: true });
    this.#nextSeq = written.nextSeq;
    this.#pending = written.pending;
    this.#size = written.size;
  }
}

function liveEntryOf(row: CarriedRow): LiveEntry {
  return { key: keyText(row.event), status: row.status };
}

function entryOf(row: PendingRow, event = eventOfKey(row.key)): JournalEntry {
  return Object.freeze({
    event: Object.freeze({ ...event }),
    status: SendStatus.Pending,
    seq: row.seq,
    recovered: row.recovered,
  });
}
