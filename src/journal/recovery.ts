/**
 * What the journal does with an event_log.csv it did not write as it is: one it cannot parse at
 * start, and one replaced, truncated or extended by someone else while the agent runs.
 *
 * - {@linkcode inspectJournal} classifies the file at the path: missing; readable (its rows, and
 *   whether its status digits can be written in place); or unusable (a folder, a link, a special
 *   file, another header, a byte that is not UTF-8, a quote that is never closed), in which case
 *   {@linkcode salvageRows} reads every line it still can, one line at a time.
 * - {@linkcode mergeRows} decides what a journal holds after its file changed under it: the rows
 *   the file at the path holds now, each with the most settled status either side knows, then
 *   every pending event of the agent the file lacks. Nothing pending is lost; settled rows the
 *   file no longer holds stay out (the server has them, and whoever cut the file chose so).
 * - {@linkcode asidePath} names where an unusable file is moved: `event_log.unreadable-<UTC
 *   time>.csv` beside it, never overwriting one.
 *
 * @module
 */
import { basename, dirname, extname, join } from "node:path";
import { eventKey } from "../event.ts";
import {
  type CarriedRow,
  isHeaderPrefix,
  type ParsedRow,
  parseJournal,
  salvageRows,
  startsWithHeader,
} from "./format.ts";
import { describeKind, readRegularFile, sameFile } from "../no_follow.ts";
import { errorText } from "../text.ts";

export type { CarriedRow } from "./format.ts";

/** What {@linkcode inspectJournal} found at the path. */
export type Inspection =
  | { kind: "missing" }
  | {
    kind: "readable";
    bytes: Uint8Array;
    rows: ParsedRow[];
    /** Where the last complete line ends (a torn last line follows it). */
    validEnd: number;
    /** A status digit cannot be written in place (a quoted status, a header cut short). */
    needsRewrite: boolean;
    /** Complete rows left out as malformed. */
    ignoredRows: number;
    warnings: string[];
  }
  | { kind: "unusable"; reason: string; salvaged: CarriedRow[] };

/** Looks at the journal file at `path` without changing it. Never follows a link. */
export async function inspectJournal(path: string): Promise<Inspection> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { kind: "missing" };
    throw error;
  }
  if (!info.isFile) {
    const target = info.isSymlink ? await Deno.readLink(path).catch(() => undefined) : undefined;
    return { kind: "unusable", reason: `it is ${describeKind(info, target)}`, salvaged: [] };
  }
  const bytes = await readRegularFile(path);
  if (!startsWithHeader(bytes)) {
    if (isHeaderPrefix(bytes)) {
      return {
        kind: "readable",
        bytes,
        rows: [],
        validEnd: 0,
        needsRewrite: true,
        ignoredRows: 0,
        warnings: [`Rewrote the header of ${path}: the file held only ${bytes.length} bytes`],
      };
    }
    return {
      kind: "unusable",
      reason: bytes.length > 0 && bytes[0] === 0
        ? "it starts with NUL bytes (it was truncated while it was written, e.g. by copytruncate)"
        : "its first line is not the journal's header",
      salvaged: salvageRows(bytes),
    };
  }
  try {
    const parsed = parseJournal(bytes, path);
    return {
      kind: "readable",
      bytes,
      ...parsed,
      needsRewrite: parsed.rows.some((row) => !row.inPlace),
      ignoredRows: parsed.warnings.length, // its only warnings are rows left out
    };
  } catch (error) {
    return { kind: "unusable", reason: errorText(error), salvaged: salvageRows(bytes) };
  }
}

/**
 * The rows of a journal whose file changed under it: `onDisk` (the file at the path now, in its
 * order) with, for each, the more settled of its status and the agent's, then each row of
 * `mine` still pending that `onDisk` lacks. Duplicates by the server's key are kept once.
 */
export function mergeRows<T extends CarriedRow>(
  onDisk: readonly CarriedRow[],
  mine: readonly T[],
): { row: CarriedRow; mine?: T }[] {
  const mineByKey = new Map<string, T>();
  for (const row of mine) {
    if (!mineByKey.has(eventKey(row.event))) mineByKey.set(eventKey(row.event), row);
  }
  const merged: { row: CarriedRow; mine?: T }[] = [];
  const seen = new Set<string>();
  for (const row of onDisk) {
    const key = eventKey(row.event);
    if (seen.has(key)) continue;
    seen.add(key);
    const own = mineByKey.get(key);
    const status = own !== undefined && own.status !== 0 ? own.status : row.status;
    merged.push({ row: { event: row.event, status }, mine: own });
  }
  for (const own of mine) {
    const key = eventKey(own.event);
    if (own.status !== 0 || seen.has(key)) continue;
    seen.add(key);
    merged.push({ row: { event: own.event, status: own.status }, mine: own });
  }
  return merged;
}

/** How a journal is rebuilt: its rows, and why the file at the path is moved aside, if it is. */
export interface RebuildPlan<T extends CarriedRow> {
  entries: { row: CarriedRow; mine?: T }[];
  /** Why the file at the path cannot simply be replaced (it is kept aside), or undefined. */
  aside?: string;
  /** How many rows were taken from the file at the path. */
  fromFile: number;
}

/**
 * The plan to rebuild a journal from what {@linkcode inspectJournal} found and the journal's
 * own rows (`mine`; none at open): an unusable file gives its readable pending rows and is kept
 * aside; a readable one gives every row, and is kept aside too when it has rows that could not be
 * read (the rebuilt file would drop them); a missing one gives nothing.
 */
export function rebuildPlan<T extends CarriedRow>(
  found: Inspection,
  mine: readonly T[],
): RebuildPlan<T> {
  if (found.kind === "unusable") {
    const pending = found.salvaged.filter((row) => row.status === 0);
    return { entries: mergeRows(pending, mine), aside: found.reason, fromFile: pending.length };
  }
  if (found.kind === "missing") return { entries: mergeRows([], mine), fromFile: 0 };
  return {
    entries: mergeRows(found.rows, mine),
    aside: found.ignoredRows > 0 ? `${found.ignoredRows} of its rows could not be read` : undefined,
    fromFile: found.rows.length,
  };
}

/** A free name beside `path` for an unusable journal: `event_log.unreadable-<time>[-n].csv`. */
export async function asidePath(path: string, now: number): Promise<string> {
  const ext = extname(path);
  const stem = basename(path, ext);
  const stamp = new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  for (let n = 1;; n++) {
    const name = `${stem}.unreadable-${stamp}${n > 1 ? `-${n}` : ""}${ext}`;
    const candidate = join(dirname(path), name);
    try {
      await Deno.lstat(candidate);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return candidate;
      throw error;
    }
  }
}

/**
 * Why the file `file` (the journal's open file, `size` bytes as it wrote them) is no longer the
 * journal at `path`, or undefined when it still is: moved or deleted, replaced by another file,
 * truncated, or extended by another program.
 */
export function changeOf(
  file: Deno.FsFile,
  path: string,
  size: number,
): string | undefined {
  // Synchronous: two stat calls of a local file take microseconds, where the async ops' thread
  // pool round trips cost about as much as the row's write (measured by the bench's journal
  // rows: 3,650 appends/s with async stats against 5,214 before the check existed).
  const mine = file.statSync();
  let onDisk: Deno.FileInfo;
  try {
    onDisk = Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "it was moved away or deleted";
    throw error;
  }
  if (!onDisk.isFile || !sameFile(onDisk, mine)) return "another file replaced it";
  if (mine.size < size) return `it was truncated to ${mine.size} bytes`;
  if (mine.size > size) return `another program added ${mine.size - size} bytes to it`;
  return undefined;
}
