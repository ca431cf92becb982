/**
 * status.json: what the running agent last knew about itself, written atomically beside
 * config.ini so that `--status` (another process) can show it. It never holds the API key.
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../atomic_write.ts";
import { NotRegularFileError, openRegular, openRegularSync } from "../no_follow.ts";
import { redact } from "../log/redact.ts";
import { readRegularTextFile } from "../no_follow.ts";
import { type AgentStatus, parseStatus } from "./status_schema.ts";
import { errorText } from "../text.ts";

export type { AgentStatus } from "./status_schema.ts";

/** The file name of the status file in the agent's folder. */
export const STATUS_FILE = "status.json";

/**
 * status.json is padded with spaces to a multiple of this, so that the file keeps room for the
 * next status: when the disk is full and the atomic write (a new file) fails, the status is
 * written over the old one in place, in blocks the file already owns.
 */
export const STATUS_BLOCK = 4096;

/** The text of status.json: JSON, then spaces up to a multiple of {@link STATUS_BLOCK}, "\n". */
export function statusText(status: AgentStatus): string {
  // The server's words (health answer, last error) pass the redaction point like a log line.
  const json = redact(JSON.stringify(status, null, 2));
  const size = Math.ceil((json.length + 1) / STATUS_BLOCK) * STATUS_BLOCK;
  return json.padEnd(size - 1) + "\n";
}

/**
 * Writes status.json atomically and durably. When that fails (a full disk) and the new status
 * fits in the existing file, it is written over that file in place instead (no new block is
 * needed; a reader may then see a torn file, which {@link readStatus} reads again). Failures
 * are returned, not thrown.
 */
export async function writeStatus(dir: string, status: AgentStatus): Promise<Error | undefined> {
  const path = join(dir, STATUS_FILE);
  const bytes = new TextEncoder().encode(statusText(status));
  try {
    await writeFileAtomic(path, bytes, { mode: 0o600 });
    return undefined;
  } catch (error) {
    // A link or a special file in status.json's place is refused, never written through; the
    // in-place fallback is only for a full disk.
    if (error instanceof NotRegularFileError) return error;
    return await writeInPlace(path, bytes) ? undefined : error as Error;
  }
}

/** Overwrites status.json in place when `bytes` fit in it; false when they do not or it fails. */
async function writeInPlace(path: string, bytes: Uint8Array): Promise<boolean> {
  try {
    const file = await openRegular(path, { read: true, write: true });
    try {
      const { size } = await file.stat();
      if (bytes.length > size) return false;
      const padded = new Uint8Array(size).fill(0x20);
      padded.set(bytes.subarray(0, bytes.length - 1));
      padded[size - 1] = 0x0a;
      let done = 0;
      while (done < size) done += await file.write(padded.subarray(done));
      await file.sync();
      return true;
    } finally {
      file.close();
    }
  } catch {
    return false;
  }
}

/**
 * Reads status.json; undefined when there is none (read up to three times: an in-place write
 * may be under way).
 * @throws {Error} When it is damaged: not a regular file, not JSON, or a field of the wrong type.
 */
export async function readStatus(dir: string): Promise<AgentStatus | undefined> {
  const path = join(dir, STATUS_FILE);
  let damage: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return parseStatus(await readRegularTextFile(path));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      damage = error;
      if (error instanceof NotRegularFileError) break;
    }
  }
  throw new Error(
    `${path} is damaged: ${
      errorText(damage)
    }; remove it (a running agent writes it again at its next change)`,
    { cause: damage },
  );
}

/** The lock file that marks a folder as in use by a running agent. */
export const LOCK_FILE = "agent.lock";

/**
 * An exclusive lock on agent.lock in the agent's folder, held while the agent runs: a second
 * agent on the same folder (and so the same journal) is refused, and `--status` can tell whether
 * an agent runs. The operating system releases it when the process dies, even by SIGKILL.
 */
export class InstanceLock {
  #file: Deno.FsFile;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** Takes the lock and writes this process's id into the file; undefined when another holds it. */
  static acquire(dir: string): InstanceLock | undefined {
    const file = openRegularSync(join(dir, LOCK_FILE), {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
    if (!file.tryLockSync(true)) {
      file.close();
      return undefined;
    }
    try {
      file.truncateSync(0);
      file.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
    } catch { /* a full disk: the lock holds without the id */ }
    return new InstanceLock(file);
  }

  /** The process id the holder of `dir`'s lock wrote, when it can be read. */
  static async holder(dir: string): Promise<number | undefined> {
    try {
      const text = await readRegularTextFile(join(dir, LOCK_FILE), { limit: 32 });
      const pid = Number(text.trim());
      return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined; // Windows: the holder's lock keeps others from reading
    }
  }

  /** Releases the lock; idempotent. */
  release(): void {
    try {
      this.#file.unlockSync();
      this.#file.close();
    } catch { /* already released */ }
  }
}

/** True when an agent holds the folder's lock, false when none does, undefined when unknown. */
export function agentRunning(dir: string): boolean | undefined {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(join(dir, LOCK_FILE), { read: true, write: true });
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? false : undefined;
  }
  try {
    const free = file.tryLockSync(false);
    if (free) file.unlockSync();
    return !free;
  } finally {
    file.close();
  }
}

/** status.json, or why it cannot be used. */
export function statusOf(dir: string): Promise<[AgentStatus | undefined, string | null]> {
  return readStatus(dir).then((status) => [status, null], (error) => [undefined, errorText(error)]);
}
