/**
 * The one atomic file write of the agent (config.ini, status.json, journal rewrites): the data
 * goes to a new temporary file beside the target (created exclusively, so a planted file or
 * link of that name is never written through), is flushed to disk, gets its mode and security,
 * and is renamed over the target; the folder is then flushed so the rename itself survives a
 * power loss. A reader sees the old file or the new one, never a mix.
 *
 * Temporary names are `.<name>.<random>.tmp`; `isTemporaryName` recognises them so that a
 * start can remove those a killed process left behind.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

/** Options of `writeFileAtomic`. */
export interface AtomicWriteOptions {
  /** POSIX mode of the new file (default: the existing file's, or 0o600). */
  mode?: number;
  /** Applied to the temporary file before the rename (Windows: its security descriptor). */
  secure?: (path: string) => Promise<void>;
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

/** Writes `data` to `path` atomically and durably. Throws the underlying error; leaves no temp. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  let mode = options.mode;
  if (mode === undefined) {
    try {
      mode = (await Deno.stat(path)).mode ?? 0o600;
    } catch {
      mode = 0o600; // a new file: owner only
    }
  }
  mode &= 0o777;
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
