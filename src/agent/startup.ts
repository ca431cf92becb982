/**
 * The steps of the agent's start that can fail, each failure a {@link StartError} with the
 * service exit code the Windows service reports (docs/administration.md, "Service controls and exit codes").
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { removeTemporaries } from "../atomic_write.ts";
import { ALIVE_FILE } from "../sessions/alive.ts";
import type { JournalSetAside } from "../log/app_event_log.ts";
import { SERVICE_EXIT_CODES, StartError } from "../exit_codes.ts";
import { Journal, type JournalReader } from "../journal/journal.ts";
import type { LogFn } from "../log/log.ts";
import type { SecureOptions } from "../platform.ts";
import { fileAbove } from "../paths.ts";
import { InstanceLock, LOCK_FILE, STATUS_FILE } from "../status/status.ts";

/** What {@link lockFolder} needs of the platform and the agent. */
export interface FolderOptions {
  /** Restricts a folder to the service account and the administrators. */
  secureDirectory: (dir: string, options?: SecureOptions) => Promise<void>;
  /** Who else can write in a folder, or undefined (see `Platform.describeOpenAccess`). */
  describeOpenAccess?: (dir: string) => Promise<string | undefined>;
  /** The platform's default folder of the agent, whose permissions are always set. */
  installDir: string;
  log: LogFn;
}

/**
 * Makes sure the agent's folder exists, sets its permissions only when the agent owns it (it
 * creates it now, or it is the install folder) and otherwise leaves them and warns when others can
 * write in it, takes the folder's lock and removes temporary files a killed write left behind.
 *
 * `--config X/config.ini` may name any folder (`/tmp`, `/etc`, a share): changing its mode or
 * giving it the protected DACL would damage what else lives there, so a folder that existed and is
 * not the install folder keeps its permissions.
 *
 * @throws {StartError} when the folder cannot be made or secured, or another agent holds it.
 */
export async function lockFolder(dir: string, options: FolderOptions): Promise<InstanceLock> {
  let lock: InstanceLock | undefined;
  try {
    const existed = await Deno.lstat(dir).then(() => true, () => false);
    if (!existed || samePath(dir, options.installDir)) {
      // The platform creates a missing folder with its final permissions in the same step
      // (Windows: CreateDirectoryW with the protected descriptor, refused when not elevated):
      // the core never makes the folder first and secures it after.
      await Deno.mkdir(dirname(dir), { recursive: true });
      await options.secureDirectory(dir, {
        create: true,
        report: (line) => options.log("warn", line),
      });
    } else {
      const who = await options.describeOpenAccess?.(dir).catch(() => undefined);
      if (who !== undefined) {
        options.log(
          "warn",
          `The folder ${dir} that holds config.ini and the agent's files can be written by ${who}: the agent did not create it, so it leaves its permissions alone; restrict it to the agent's account and the administrators, or keep the agent's files in a folder of their own (such as ${options.installDir})`,
        );
      }
    }
    lock = InstanceLock.acquire(dir);
  } catch (error) {
    const file = await fileAbove(join(dir, LOCK_FILE));
    if (file !== undefined) {
      throw new StartError(
        `Cannot create the agent's folder ${dir}: ${file} is a file, not a folder; give --config a config.ini in a folder`,
        SERVICE_EXIT_CODES.installDirNotWritable,
        { cause: error },
      );
    }
    throw new StartError(
      `Cannot create or secure the agent's folder ${dir}: ${
        (error as Error).message
      }; run as Administrator (Windows) or give the folder to the agent's user`,
      SERVICE_EXIT_CODES.installDirNotWritable,
      { cause: error },
    );
  }
  if (!lock) {
    const pid = await lockHolder(dir);
    throw new StartError(
      `Another agent${
        pid === undefined ? "" : ` (pid ${pid})`
      } is already running with ${dir}: stop it first (two agents would write one event_log.csv)`,
      SERVICE_EXIT_CODES.alreadyRunning,
    );
  }
  const removed = await removeTemporaries(dir, TEMPORARY_TARGETS);
  if (removed.length > 0) {
    options.log(
      "info",
      `Removed temporary files a write interrupted before this start left in ${dir}: ${
        removed.join(", ")
      }`,
    );
  }
  return lock;
}

/**
 * The process id in the folder's agent.lock; an agent that has just taken the lock writes it a
 * moment later, so an empty file is read again a few times.
 */
async function lockHolder(dir: string): Promise<number | undefined> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const pid = await InstanceLock.holder(dir);
    if (pid !== undefined) return pid;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

/** The account the agent runs as, for messages: its uid on POSIX. */
function accountName(): string {
  const uid = Deno.uid();
  return uid === null ? "the service account" : `uid ${uid}`;
}

/** The files written with writeFileAtomic, whose temporaries a start removes. */
export const TEMPORARY_TARGETS: readonly string[] = ["config.ini", STATUS_FILE, ALIVE_FILE];

/** Whether two paths name one folder (Windows paths compare without case). */
function samePath(a: string, b: string): boolean {
  const [x, y] = [resolve(a), resolve(b)];
  return Deno.build.os === "windows" ? x.toLowerCase() === y.toLowerCase() : x === y;
}

/**
 * Opens the folder's event_log.csv.
 * @throws {StartError} when it cannot be opened.
 */
export async function openJournal(
  dir: string,
  options: {
    rotationSizeBytes: number;
    log: LogFn;
    /** The journal set an unreadable event_log.csv aside (Event Log 301). */
    onSetAside?: (details: JournalSetAside) => void;
    /** Reads the live file's rows as the journal opens it (the open-sessions view). */
    reader?: JournalReader;
  },
): Promise<Journal> {
  const eventLog = join(dir, "event_log.csv");
  try {
    return await Journal.open(eventLog, {
      rotationSizeBytes: options.rotationSizeBytes,
      onWarning: (message) => options.log("warn", message),
      onSetAside: options.onSetAside,
      reader: options.reader,
    });
  } catch (error) {
    const fix = error instanceof Deno.errors.PermissionDenied
      ? `; give the agent's account (${accountName()}) permission to write it, or run the agent as its owner; nothing in it is lost`
      : "; move the file aside if it is not an event log of this agent";
    throw new StartError(
      `Cannot open ${eventLog}: ${(error as Error).message}${fix}`,
      SERVICE_EXIT_CODES.journalUnavailable,
      { cause: error },
    );
  }
}
