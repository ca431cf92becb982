/**
 * The small file operations of the journal: whole writes, a fresh synced file that never
 * follows a link, the first bytes of a file, existence without following a link, and the fsync
 * of the journal's folder.
 *
 * @module
 */
import { dirname } from "node:path";
import { syncDirectory } from "../atomic_write.ts";
import { HEADER_BYTES, startsWithHeader } from "./format.ts";
import { NotRegularFileError, readRegularFile } from "../no_follow.ts";

/** Writes all of `bytes` at the file's position. */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}

/**
 * Writes `bytes` as a new file at `path` and fdatasyncs it. Whatever was at `path` is removed
 * first and the file is created exclusively, so a link planted under that name is never written
 * through.
 */
export function writeFileSynced(path: string, bytes: Uint8Array): Promise<void> {
  return writePiecesSynced(path, [bytes]);
}

/**
 * {@linkcode writeFileSynced} for content made of many pieces: they are gathered into writes of
 * about 1 MiB, so a large file is never held whole in memory.
 */
export async function writePiecesSynced(path: string, pieces: Iterable<Uint8Array>): Promise<void> {
  await Deno.remove(path).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  using file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  const buffer = new Uint8Array(1 << 20);
  let filled = 0;
  for (const piece of pieces) {
    if (filled + piece.length > buffer.length) {
      await writeAll(file, buffer.subarray(0, filled));
      filled = 0;
    }
    if (piece.length > buffer.length) await writeAll(file, piece);
    else {
      buffer.set(piece, filled);
      filled += piece.length;
    }
  }
  await writeAll(file, buffer.subarray(0, filled));
  await file.syncData();
}

/** Up to `length` first bytes of the regular file at `path`. */
export async function readHead(path: string, length: number): Promise<Uint8Array> {
  return await readRegularFile(path, { limit: length }).catch((error) => {
    if (error instanceof NotRegularFileError) return new Uint8Array();
    throw error;
  });
}

/** The whole content of the open `file`, read from its start (its position is left at the end). */
export async function readWhole(file: Deno.FsFile): Promise<Uint8Array> {
  const size = (await file.stat()).size;
  await file.seek(0, Deno.SeekMode.Start);
  const bytes = new Uint8Array(size);
  let filled = 0;
  while (filled < size) {
    const n = await file.read(bytes.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return bytes.subarray(0, filled);
}

/** Whether anything (a link included, not followed) is at `path`. */
export async function exists(path: string): Promise<boolean> {
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
export async function syncFolder(path: string): Promise<void> {
  await syncDirectory(dirname(path)).catch(() => {});
}

/**
 * Finishes or undoes a rotation (or a rebuild) interrupted at any step, and creates the journal
 * with its header when it is missing (see the notes at the top of journal.ts).
 */
export async function recoverRotation(
  path: string,
  warn: (message: string) => void,
): Promise<void> {
  const next = path + ".next";
  const liveExists = await exists(path);
  const nextExists = await exists(next);
  if (nextExists && liveExists) {
    await Deno.remove(next, { recursive: true });
    warn(
      `Removed ${next}: a rotation of ${path} was interrupted before the live file was archived, which is intact`,
    );
    return;
  }
  if (nextExists) {
    // .next is renamed only once complete, but a crash while creating a new journal leaves a
    // .next that may be incomplete: its header tells.
    const head = await readHead(next, HEADER_BYTES.length + 1);
    if (startsWithHeader(head)) {
      await Deno.rename(next, path);
      await syncFolder(path);
      warn(
        `Finished an interrupted rotation of ${path}: the live file was archived, ${next} became the live file`,
      );
      return;
    }
    await Deno.remove(next, { recursive: true });
  }
  if (!liveExists) {
    await writeFileSynced(next, HEADER_BYTES);
    await Deno.rename(next, path);
    await syncFolder(path);
  }
}
