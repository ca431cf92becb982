/**
 * Opening the files the agent writes without following a link and without blocking on a special
 * file. Deno has no O_NOFOLLOW, so a file is looked at with `lstat` first (a link, a folder, a
 * FIFO or a device is refused with a message that names it), opened, and the opened file's identity
 * compared with what `lstat` saw: a link swapped in between is refused too. A link planted in the
 * agent's folder (`error.log` → `/etc/passwd`) therefore never gets the agent's writes.
 *
 * @module
 */

/** A file the agent will not open: a link, a folder, a FIFO, a socket or a device. */
export class NotRegularFileError extends Error {
  override name = "NotRegularFileError";
  /** The path refused. */
  readonly path: string;

  constructor(path: string, what: string, options?: ErrorOptions) {
    super(
      `Refusing to use ${path}: it is ${what}, not a regular file; remove it or move it aside`,
      options,
    );
    this.path = path;
  }
}

/** What `info` is, as a message says it ("a symbolic link to /etc/passwd"). */
export function describeKind(info: Deno.FileInfo, target?: string): string {
  if (info.isSymlink) return `a symbolic link${target ? ` to ${target}` : ""}`;
  if (info.isDirectory) return "a folder";
  if (info.isFifo) return "a named pipe (FIFO)";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice || info.isBlockDevice) return "a device";
  return "not a regular file";
}

/** Whether two stats are of one file; true when the platform gives no identity to compare. */
export function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  if (a.ino === null || b.ino === null || a.dev === null || b.dev === null) return true;
  return a.ino === b.ino && a.dev === b.dev;
}

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function lstatSyncOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function refusal(path: string, info: Deno.FileInfo): Promise<NotRegularFileError> {
  const target = info.isSymlink ? await Deno.readLink(path).catch(() => undefined) : undefined;
  return new NotRegularFileError(path, describeKind(info, target));
}

function refusalSync(path: string, info: Deno.FileInfo): NotRegularFileError {
  let target: string | undefined;
  try {
    if (info.isSymlink) target = Deno.readLinkSync(path);
  } catch { /* gone meanwhile */ }
  return new NotRegularFileError(path, describeKind(info, target));
}

/**
 * Opens `path` (created when `options.create` and missing) only when it is a regular file.
 * @throws {NotRegularFileError} When it is a link, a folder or a special file.
 */
export async function openRegular(path: string, options: Deno.OpenOptions): Promise<Deno.FsFile> {
  const before = await lstatOrUndefined(path);
  if (before !== undefined && !before.isFile) throw await refusal(path, before);
  const file = before === undefined && options.create
    ? await Deno.open(path, { ...options, create: false, createNew: true }).catch(
      (error) => {
        // Created by someone else meanwhile: look at it again.
        if (error instanceof Deno.errors.AlreadyExists) return openRegular(path, options);
        throw error;
      },
    )
    : await Deno.open(path, options);
  if (before !== undefined && !sameFile(before, await file.stat())) {
    file.close();
    throw new NotRegularFileError(path, "replaced while it was opened");
  }
  return file;
}

/** {@linkcode openRegular}, synchronous (for the logs, which write synchronously). */
export function openRegularSync(path: string, options: Deno.OpenOptions): Deno.FsFile {
  const before = lstatSyncOrUndefined(path);
  if (before !== undefined && !before.isFile) throw refusalSync(path, before);
  let file: Deno.FsFile;
  if (before === undefined && options.create) {
    try {
      file = Deno.openSync(path, { ...options, create: false, createNew: true });
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) return openRegularSync(path, options);
      throw error;
    }
  } else {
    file = Deno.openSync(path, options);
  }
  if (before !== undefined && !sameFile(before, file.statSync())) {
    file.close();
    throw new NotRegularFileError(path, "replaced while it was opened");
  }
  return file;
}

/** Options of {@linkcode readRegularFile}. */
export interface ReadRegularOptions {
  /**
   * Follow a link (config.ini only: an administrator may keep it elsewhere); what it leads to
   * must still be a regular file. Default false: a link is refused.
   */
  followLink?: boolean;
  /** Read at most this many first bytes. */
  limit?: number;
}

/**
 * The one reader of every file the agent or a command reads (event_log.csv and its archives,
 * sessions.json, status.json, config.ini): a FIFO, a device, a socket or a folder is refused
 * before it is opened, so a read never blocks, and a link is refused unless `followLink`; the
 * opened file must be the one looked at.
 * @throws {NotRegularFileError} When `path` is not a regular file (or a link to one, when followed).
 */
export async function readRegularFile(
  path: string,
  options: ReadRegularOptions = {},
): Promise<Uint8Array> {
  const before = options.followLink ? await Deno.stat(path) : await Deno.lstat(path);
  if (!before.isFile) throw await refusal(path, before);
  using file = await Deno.open(path, { read: true });
  if (!sameFile(before, await file.stat())) {
    throw new NotRegularFileError(path, "replaced while it was opened");
  }
  const limit = options.limit ?? Infinity;
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total < limit) {
    const chunk = new Uint8Array(Math.min(64 * 1024, limit - total));
    const n = await file.read(chunk);
    if (n === null) break;
    chunks.push(chunk.subarray(0, n));
    total += n;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

/** {@linkcode readRegularFile} as UTF-8 text. */
export async function readRegularTextFile(
  path: string,
  options: ReadRegularOptions = {},
): Promise<string> {
  return new TextDecoder().decode(await readRegularFile(path, options));
}
