/**
 * What the journal keeps in memory of event_log.csv: its pending rows only, oldest first, each
 * with where its status digit lies and its five fields. A settled row leaves memory the moment it
 * is settled, so memory follows the backlog, not the file's history.
 *
 * A list linked in file order plus a map by seq: the oldest row, the removal of any row and the
 * walk from the oldest (skipping rows delivery set aside) each cost what they touch.
 *
 * @module
 */

/** One pending row of the live file. */
export interface PendingRow {
  /** Increasing in file order; the row's identity across rotations. */
  readonly seq: number;
  /** The five fields as CSV (the row's text before `,0`). */
  readonly key: string;
  /** Loaded from disk at open (so it may have been attempted before). */
  readonly recovered: boolean;
  /** Byte offset of the status digit in the live file. */
  statusOffset: number;
  /** Byte length of the row, line end included. */
  length: number;
}

interface Link {
  row: PendingRow;
  prev: Link | undefined;
  next: Link | undefined;
}

/** The pending rows, in file order. */
export class PendingRows {
  #bySeq = new Map<number, Link>();
  #head: Link | undefined;
  #tail: Link | undefined;
  #bytes = 0;

  /** How many rows are pending. */
  get count(): number {
    return this.#bySeq.size;
  }

  /** Their byte length in the live file. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds `row` after every other (its seq is the largest). */
  add(row: PendingRow): void {
    const link: Link = { row, prev: this.#tail, next: undefined };
    if (this.#tail) this.#tail.next = link;
    else this.#head = link;
    this.#tail = link;
    this.#bySeq.set(row.seq, link);
    this.#bytes += row.length;
  }

  /** The pending row `seq`, if it is one. */
  get(seq: number): PendingRow | undefined {
    return this.#bySeq.get(seq)?.row;
  }

  /** Removes row `seq` (it was settled); true when it was pending. */
  remove(seq: number): boolean {
    const link = this.#bySeq.get(seq);
    if (link === undefined) return false;
    this.#bySeq.delete(seq);
    if (link.prev) link.prev.next = link.next;
    else this.#head = link.next;
    if (link.next) link.next.prev = link.prev;
    else this.#tail = link.prev;
    this.#bytes -= link.row.length;
    return true;
  }

  /** The oldest pending row. */
  first(): PendingRow | undefined {
    return this.#head?.row;
  }

  /** The rows from the oldest on; a row removed during the walk is still passed over safely. */
  *[Symbol.iterator](): IterableIterator<PendingRow> {
    for (let link = this.#head; link !== undefined; link = link.next) yield link.row;
  }
}
