/**
 * The one archive rotation of the agent, used by the journal (event_log.csv) and the logs
 * (session_monitor.log, error.log): archives are numbered from 1, the newest; rotating shifts
 * every archive up by one, highest first so nothing is overwritten that is still to move, deletes
 * those that would pass `keep`, and renames the file itself to archive 1.
 *
 * The journal rotates asynchronously and considers every numbered archive in its folder (so one
 * left past `keep` by a smaller setting is deleted); the logs write synchronously and rotate
 * synchronously, considering archives 1 to keep - 1 only: archive `keep` is replaced by the
 * rename of keep - 1, and files numbered above `keep` are left alone.
 *
 * @module
 */
import { basename, dirname, extname } from "node:path";

/**
 * How archive n of a file is named: `"before-extension"` (the journal's) puts the number before
 * the extension, event_log.csv → event_log.1.csv; `"appended"` (the logs') appends it,
 * session_monitor.log → session_monitor.log.1. Without an extension both append.
 */
export type ArchiveNaming = "before-extension" | "appended";

/** Options of the rotation functions. */
export interface RotationOptions {
  /** Archives kept (0: the file is still renamed to archive 1, which the caller deletes). */
  keep: number;
  /** Default `"before-extension"`. */
  naming?: ArchiveNaming;
}

/** One move of a shift: archive `from` becomes archive `to`, or is deleted when `to` is null. */
export interface ShiftStep {
  from: number;
  to: number | null;
}

/** Returns the path of archive number `n` of the file at `path`. */
export function archivePath(
  path: string,
  n: number,
  naming: ArchiveNaming = "before-extension",
): string {
  const ext = naming === "appended" ? "" : extname(path);
  return ext === "" ? `${path}.${n}` : `${path.slice(0, -ext.length)}.${n}${ext}`;
}

/**
 * The moves that shift the archives `numbers` up by one: highest first, so no archive is
 * overwritten before it moved; an archive that would pass `keep` is deleted. A crash part way
 * leaves a gap in the numbers, which the next shift keeps; no archive is lost.
 */
export function shiftSteps(numbers: readonly number[], keep: number): ShiftStep[] {
  return [...numbers].sort((a, b) => b - a).map((n) => ({
    from: n,
    to: n + 1 > keep ? null : n + 1,
  }));
}

/** The archive numbers present beside the file at `path`, highest first. */
export async function archiveNumbers(
  path: string,
  naming: ArchiveNaming = "before-extension",
): Promise<number[]> {
  const ext = naming === "appended" ? "" : extname(path);
  const stem = basename(path).slice(0, basename(path).length - ext.length);
  const numbers: number[] = [];
  for await (const entry of Deno.readDir(dirname(path))) {
    if (!entry.isFile || !entry.name.startsWith(stem + ".") || !entry.name.endsWith(ext)) continue;
    const middle = entry.name.slice(stem.length + 1, entry.name.length - ext.length);
    if (/^[1-9][0-9]*$/.test(middle)) numbers.push(Number(middle));
  }
  return numbers.sort((a, b) => b - a);
}

/** Shifts every archive of `path` found in its folder up by one, deleting those past `keep`. */
export async function shiftArchives(path: string, options: RotationOptions): Promise<void> {
  const naming = options.naming ?? "before-extension";
  for (const step of shiftSteps(await archiveNumbers(path, naming), options.keep)) {
    const from = archivePath(path, step.from, naming);
    if (step.to === null) await Deno.remove(from);
    else await Deno.rename(from, archivePath(path, step.to, naming));
  }
}

/** Deletes the archives of `path` numbered above `keep`. */
export async function pruneArchives(path: string, options: RotationOptions): Promise<void> {
  const naming = options.naming ?? "before-extension";
  for (const n of await archiveNumbers(path, naming)) {
    if (n > options.keep) await Deno.remove(archivePath(path, n, naming));
  }
}

/** Shifts the archives (as {@linkcode shiftArchives}), then renames `path` to archive 1. */
export async function archiveFile(path: string, options: RotationOptions): Promise<void> {
  await shiftArchives(path, options);
  await Deno.rename(path, archivePath(path, 1, options.naming));
}

/**
 * The synchronous rotation of the logs: shifts archives 1 to keep - 1 up by one (a missing one is
 * skipped; archive `keep` is replaced), then renames `path` to archive 1.
 */
export function archiveFileSync(path: string, options: RotationOptions): void {
  const naming = options.naming ?? "before-extension";
  const below = Array.from({ length: Math.max(options.keep - 1, 0) }, (_, i) => i + 1);
  for (const step of shiftSteps(below, options.keep)) {
    try {
      Deno.renameSync(archivePath(path, step.from, naming), archivePath(path, step.to!, naming));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  Deno.renameSync(path, archivePath(path, 1, naming));
}
