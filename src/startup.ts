/**
 * The steps of the agent's start that can fail, each failure a {@link StartError} with the
 * service exit code the Windows service reports (README, "Service controls and exit codes").
 *
 * @module
 */
import { join } from "node:path";
import type { JournalSetAside } from "./event_log.ts";
import { SERVICE_EXIT_CODES, StartError } from "./exit_codes.ts";
import { Journal } from "./journal.ts";
import type { LogFn } from "./log.ts";
import { InstanceLock } from "./status.ts";

/**
 * Creates and secures the agent's folder and takes its lock.
 * @throws {StartError} when the folder cannot be made or secured, or another agent holds it.
 */
export async function lockFolder(
  dir: string,
  secureDirectory: (dir: string) => Promise<void>,
): Promise<InstanceLock> {
  let lock: InstanceLock | undefined;
  try {
    await Deno.mkdir(dir, { recursive: true });
    await secureDirectory(dir);
    lock = InstanceLock.acquire(dir);
  } catch (error) {
    throw new StartError(
      `Cannot create or secure the agent's folder ${dir}: ${
        (error as Error).message
      }; run as Administrator (Windows) or give the folder to the agent's user`,
      SERVICE_EXIT_CODES.installDirNotWritable,
      { cause: error },
    );
  }
  if (!lock) {
    throw new StartError(
      `Another agent is already running with ${dir}: stop it first (two agents would write one event_log.csv)`,
      SERVICE_EXIT_CODES.alreadyRunning,
    );
  }
  return lock;
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
    /**
     * The journal set an unreadable event_log.csv aside (Event Log 301). The journal's set-aside
     * recovery (being added to src/journal*.ts) is to call it: pass it on to Journal.open.
     */
    onSetAside?: (details: JournalSetAside) => void;
  },
): Promise<Journal> {
  const eventLog = join(dir, "event_log.csv");
  try {
    return await Journal.open(eventLog, {
      rotationSizeBytes: options.rotationSizeBytes,
      onWarning: (message) => options.log("warn", message),
    });
  } catch (error) {
    throw new StartError(
      `Cannot open ${eventLog}: ${
        (error as Error).message
      }; move the file aside if it is not an event log of this agent`,
      SERVICE_EXIT_CODES.journalUnavailable,
      { cause: error },
    );
  }
}
