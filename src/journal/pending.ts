/**
 * What the journal keeps in memory of event_log.csv: its pending rows only, oldest first, each
 * with where its status digit lies and its five fields. A settled row is dropped the moment it is
 * settled, so memory follows the backlog, not the file's history.
 *
 * The rows live in typed arrays and one byte arena for the five fields (about 80 bytes a row,
 * outside the JavaScript heap, so a large backlog costs the garbage collector nothing). A settled
 * row is marked removed and skipped through a "next row that may be live" link that each walk
 * shortens (path compression), so the oldest row, a walk from it past rows delivery set aside,
 * and a lookup by seq (binary search: seqs increase in file order) each cost what they touch. The
 * arrays are compacted once removed rows outnumber the live ones.
 *
 * @module
 */

/** One pending row of the live file, as the journal reads it. */
export interface PendingRow {
  /** Increasing in file order; the row's identity across rotations. */
  readonly seq: number;
  /** The five fields as CSV (the row's text before `,0`). */
  readonly key: string;
  /** Loaded from disk at open (so it may have been attempted before). */
  readonly recovered: boolean;
  /** Byte offset of the status digit in the live file. */
  readonly statusOffset: number;
  /** Byte length of the row, line end included. */
  readonly length: number;
}

const RECOVERED = 1;
const REMOVED = 2;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The pending rows, in file order. */
export class PendingRows {
  #seqs = new Float64Array(64);
  #offsets = new Float64Array(64);
  #lengths = new Uint32Array(64);
  #keyStarts = new Float64Array(64);
  #keyLengths = new Uint32Array(64);
  #flags = new Uint8Array(64);
  /** For a removed row: an index at or before the next row that may be live. */
  #skip = new Int32Array(64);
  #keys = new Uint8Array(4096);
  #keyEnd = 0;
  /** Rows stored (live and removed), and the index of the first that may be live. */
  #used = 0;
  #head = 0;
  #count = 0;
  #bytes = 0;

  /** How many rows are pending. */
  get count(): number {
    return this.#count;
  }

  /** Their byte length in the live file. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds a row after every other (its seq is the largest); `key` as text or UTF-8 bytes. */
  add(row: Omit<PendingRow, "key">, key: string | Uint8Array): void {
    const bytes = typeof key === "string" ? encoder.encode(key) : key;
    if (this.#used === this.#seqs.length) this.#resize(this.#seqs.length * 2);
    if (this.#keyEnd + bytes.length > this.#keys.length) {
      const keys = new Uint8Array(Math.max(this.#keys.length * 2, this.#keyEnd + bytes.length));
      keys.set(this.#keys.subarray(0, this.#keyEnd));
      this.#keys = keys;
    }
    const i = this.#used++;
    this.#keys.set(bytes, this.#keyEnd);
    this.#keyStarts[i] = this.#keyEnd;
    this.#keyLengths[i] = bytes.length;
    this.#keyEnd += bytes.length;
    this.#seqs[i] = row.seq;
    this.#offsets[i] = row.statusOffset;
    this.#lengths[i] = row.length;
    this.#flags[i] = row.recovered ? RECOVERED : 0;
    this.#count++;
    this.#bytes += row.length;
  }

  /** The pending row `seq`, if it is one. */
  get(seq: number): PendingRow | undefined {
    const i = this.#find(seq);
    return i < 0 ? undefined : this.#row(i);
  }

  /** Removes row `seq` (it was settled); true when it was pending. */
  remove(seq: number): boolean {
    const i = this.#find(seq);
    if (i < 0) return false;
    this.#flags[i] |= REMOVED;
    this.#skip[i] = i + 1;
    this.#count--;
    this.#bytes -= this.#lengths[i];
    if (this.#used - this.#count > Math.max(1024, this.#count)) this.#compact();
    return true;
  }

  /** The oldest pending row. */
  first(): PendingRow | undefined {
    this.#head = this.#live(this.#head);
    return this.#head < this.#used ? this.#row(this.#head) : undefined;
  }

  /** The rows from the oldest on, each made as the walk reaches it. */
  *[Symbol.iterator](): IterableIterator<PendingRow> {
    for (let i = this.#live(this.#head); i < this.#used; i = this.#live(i + 1)) {
      yield this.#row(i);
    }
  }

  #row(i: number): PendingRow {
    const start = this.#keyStarts[i];
    return {
      seq: this.#seqs[i],
      key: decoder.decode(this.#keys.subarray(start, start + this.#keyLengths[i])),
      recovered: (this.#flags[i] & RECOVERED) !== 0,
      statusOffset: this.#offsets[i],
      length: this.#lengths[i],
    };
  }

  /** The first live index at or after `i` (or `#used`), shortening the links it follows. */
  #live(i: number): number {
    let end = i;
    while (end < this.#used && (this.#flags[end] & REMOVED) !== 0) end = this.#skip[end];
    while (i < end && i < this.#used && (this.#flags[i] & REMOVED) !== 0) {
      const next = this.#skip[i];
      this.#skip[i] = end;
      i = next;
    }
    return end;
  }

  /** The index of live row `seq`, or -1. */
  #find(seq: number): number {
    let low = this.#head;
    let high = this.#used - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const at = this.#seqs[mid];
      if (at === seq) return (this.#flags[mid] & REMOVED) === 0 ? mid : -1;
      if (at < seq) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
  }

  /** Keeps only the live rows, in order, in arrays (and an arena) sized for them. */
  #compact(): void {
    const old = {
      seqs: this.#seqs,
      offsets: this.#offsets,
      lengths: this.#lengths,
      keyStarts: this.#keyStarts,
      keyLengths: this.#keyLengths,
      flags: this.#flags,
      keys: this.#keys,
    };
    const used = this.#used;
    this.#used = 0;
    this.#head = 0;
    this.#count = 0;
    this.#bytes = 0;
    this.#keyEnd = 0;
    this.#seqs = new Float64Array(0);
    this.#resize(Math.max(64, 2 * this.#countLive(old.flags, used)));
    this.#keys = new Uint8Array(4096);
    for (let i = 0; i < used; i++) {
      if ((old.flags[i] & REMOVED) !== 0) continue;
      const start = old.keyStarts[i];
      this.add({
        seq: old.seqs[i],
        recovered: (old.flags[i] & RECOVERED) !== 0,
        statusOffset: old.offsets[i],
        length: old.lengths[i],
      }, old.keys.subarray(start, start + old.keyLengths[i]));
    }
  }

  #countLive(flags: Uint8Array, used: number): number {
    let live = 0;
    for (let i = 0; i < used; i++) if ((flags[i] & REMOVED) === 0) live++;
    return live;
  }

  #resize(capacity: number): void {
    const grow = <T extends Float64Array | Uint32Array | Uint8Array | Int32Array>(
      array: T,
      make: (n: number) => T,
    ): T => {
      const larger = make(capacity);
      larger.set(array.subarray(0, Math.min(array.length, capacity)) as never);
      return larger;
    };
    this.#seqs = grow(this.#seqs, (n) => new Float64Array(n));
    this.#offsets = grow(this.#offsets, (n) => new Float64Array(n));
    this.#lengths = grow(this.#lengths, (n) => new Uint32Array(n));
    this.#keyStarts = grow(this.#keyStarts, (n) => new Float64Array(n));
    this.#keyLengths = grow(this.#keyLengths, (n) => new Uint32Array(n));
    this.#flags = grow(this.#flags, (n) => new Uint8Array(n));
    this.#skip = grow(this.#skip, (n) => new Int32Array(n));
  }
}
