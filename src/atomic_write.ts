/**
 * The one atomic file write of the agent (config.ini, status.json, sessions.json): the data
 * goes to a new temporary file beside the target (created exclusively, so a planted file or
 * link of that name is never written through), is flushed to disk, gets its mode and security,
 * and is renamed over the target; the folder is then flushed so the rename itself survives a
 * power loss. A reader sees the old file or the new one, never a mix.
 *
 * The journal does not use it: its rewrites go through a `.next` file that must wait for the
 * live file to be archived (src/journal/journal.ts says why).
 *
 * Temporary names are `.<name>.<random>.tmp`; `isTemporaryName` recognises them so that a
 * start can remove those a killed process left behind.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { describeKind, NotRegularFileError } from "./no_follow.ts";

/** Options of `writeFileAtomic`. */
export interface AtomicWriteOptions {
  /** POSIX mode of the new file (default: the existing file's, or 0o600). */
  mode?: number;
  /** Applied to the temporary file before the rename (Windows: its security descriptor). */
  secure?: (path: string) => Promise<void>;
  /**
   * When `path` is a symbolic link, write the file it leads to (the temporary beside that file)
   * and keep the link; without it a link is refused. config.ini sets it: an administrator who
   * keeps it elsewhere behind a link keeps that arrangement. Every other file refuses links.
   */
  throughLink?: boolean;
}

/** The temporary name used for `path`. */
export function temporaryPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${crypto.randomUUID()}.tmp`);
}

/** Whether `name` (a file name, no folder) is a temporary file of `target` left by a write. */
export function isTemporaryName(name: string, target: string): boolean {
  const prefix = `.${target}.`;
  return name.startsWith(prefix) && name.endsWith(".tmp") &&
    /^[0-9a-f-]{36}$/.test(name.slice(prefix.length, -4));
}

/**
 * Removes from `dir` the temporary files of `targets` (file names) that a killed write left
 * behind (`.config.ini.<uuid>.tmp` may hold the API key). Returns the names removed; a folder that
 * cannot be listed removes nothing. Only regular files and links are removed, never followed.
 */
export async function removeTemporaries(
  dir: string,
  targets: readonly string[],
): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) continue;
      if (!targets.some((target) => isTemporaryName(entry.name, target))) continue;
      try {
        await Deno.remove(join(dir, entry.name));
        removed.push(entry.name);
      } catch { /* gone meanwhile, or not ours to remove */ }
    }
  } catch { /* the folder cannot be listed */ }
  return removed;
}

/** Flushes a folder's entries (a rename in it) to disk; a no-op on Windows, where it cannot be. */
export async function syncDirectory(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/**
 * Writes `data` to `path` atomically and durably. Throws the underlying error; leaves no temp.
 * @throws {NotRegularFileError} When `path` is a link (unless `throughLink`), a folder or a
 * special file.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const target = await writableTarget(path, options.throughLink === true);
  await writeTarget(target.path, data, options.mode ?? target.mode ?? 0o600, options);
}

/** The regular file a write of `path` replaces (the link's target when allowed), and its mode. */
async function writableTarget(
  path: string,
  throughLink: boolean,
): Promise<{ path: string; mode: number | null }> {
  let info = await Deno.lstat(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  });
  let target = path;
  if (info?.isSymlink) {
    const link = await Deno.readLink(path).catch(() => undefined);
    if (!throughLink) throw new NotRegularFileError(path, describeKind(info, link));
    try {
      target = await Deno.realPath(path);
    } catch (error) {
      throw new NotRegularFileError(path, `a symbolic link to ${link}, which does not exist`, {
        cause: error,
      });
    }
    info = await Deno.lstat(target);
  }
  if (info !== undefined && !info.isFile) {
    throw new NotRegularFileError(target, describeKind(info));
  }
  return { path: target, mode: info?.mode ?? null };
}

async function writeTarget(
  path: string,
  data: string | Uint8Array,
  fileMode: number,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = fileMode & 0o777;
  const tmp = temporaryPath(path);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true, mode });
    try {
      let done = 0;
      while (done < bytes.length) done += await file.write(bytes.subarray(done));
      await file.sync();
    } finally {
      file.close();
    }
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, mode);
    await options.secure?.(tmp);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  await syncDirectory(dirname(path));
}
