/**
 * sessions.json: the last time the agent knew the open sessions alive. The agent rewrites it
 * atomically (src/atomic_write.ts) once a minute while it runs, and when it stops; a small file:
 *
 * ```json
 * {"format":1,"aliveAt":"2025-04-28T12:00:00Z","open":["alice"],"disconnected":["bob"]}
 * ```
 *
 * `aliveAt` is when the agent last ran with every user in `open` logged on: after a power loss
 * or a kill, a user still open in event_log.csv whose session is gone at the next start gets a
 * Logoff at that time (src/sessions/sessions.ts). `disconnected` lists the users whose client went away,
 * so a reconnect after a restart still reports their start.
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../atomic_write.ts";
import type { AliveFacts } from "./inference.ts";
import { errorText, parseJsonObject } from "../text.ts";
import { readRegularTextFile } from "../no_follow.ts";

/** The file's name in the agent's folder. */
export const ALIVE_FILE = "sessions.json";

/** How often sessions.json is rewritten while the agent runs. */
export const ALIVE_INTERVAL_MS = 60_000;

/** What sessions.json holds. */
export interface AliveRecord extends AliveFacts {
  /** The users open in the agent's view then. */
  open: string[];
}

/** The text of sessions.json for `record`. */
export function aliveText(record: AliveRecord): string {
  return JSON.stringify({
    format: 1,
    aliveAt: Temporal.Instant.fromEpochMilliseconds(record.aliveAt).toString(),
    open: record.open,
    disconnected: record.disconnected,
  }) + "\n";
}

function stringList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw new TypeError(`"${name}" is not a list of user names`);
  }
  return value;
}

/**
 * Parses sessions.json. Throws a TypeError naming what is wrong (the caller says the file is
 * ignored).
 */
export function parseAlive(text: string): AliveRecord {
  const record = parseJsonObject(text);
  if (record.format !== 1) throw new TypeError(`unknown format ${JSON.stringify(record.format)}`);
  let aliveAt: number;
  try {
    aliveAt = Temporal.Instant.from(String(record.aliveAt)).epochMilliseconds;
  } catch {
    throw new TypeError(`"aliveAt" is not an RFC 3339 instant: ${JSON.stringify(record.aliveAt)}`);
  }
  return {
    aliveAt,
    open: stringList(record.open ?? [], "open"),
    disconnected: stringList(record.disconnected ?? [], "disconnected"),
  };
}

/**
 * Reads sessions.json from `dir`: undefined when there is none, or when it cannot be read
 * (`warn` says why and that it is ignored).
 */
export async function readAlive(
  dir: string,
  warn: (message: string) => void,
): Promise<AliveRecord | undefined> {
  const path = join(dir, ALIVE_FILE);
  let text: string;
  try {
    text = await readRegularTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      warn(
        `Cannot read ${path}: ${
          errorText(error)
        }; sessions that ended while the agent was not running get no inferred Logoff`,
      );
    }
    return undefined;
  }
  try {
    return parseAlive(text);
  } catch (error) {
    warn(`Ignored ${path}: ${errorText(error)}; it is rewritten within a minute`);
    return undefined;
  }
}

/** Writes sessions.json in `dir` atomically (`secure` restricts the new file, as for status.json). */
export async function writeAlive(
  dir: string,
  record: AliveRecord,
  secure?: (path: string) => Promise<void>,
): Promise<void> {
  await writeFileAtomic(join(dir, ALIVE_FILE), aliveText(record), { secure });
}
