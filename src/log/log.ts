/**
 * The agent's two logs: session_monitor.log (everything; debug lines only when debug_logs is on)
 * and error.log (warnings and errors). Each is rotated at its size from the [Logging] section
 * (0 disables that log), keeps {@link LOG_ARCHIVES} archives, and stamps lines in the configured
 * time zone. Every line passes the process's one redaction point (src/log/redact.ts), so an API key
 * never reaches a file.
 *
 * @module
 */
import { join } from "node:path";
import { systemClock } from "../clock.ts";
import { openRegularSync } from "../no_follow.ts";
import { redact, type Redactor, redactor } from "./redact.ts";
import { archiveFileSync } from "./rotation.ts";
import { errorText } from "../text.ts";

/** A log line's level. */
export type Level = "debug" | "info" | "warn" | "error";

/** Where the core writes what happens; never `console` in the core. */
export type LogFn = (level: Level, message: string) => void;

/** How many rotated files of each log are kept (session_monitor.log.1 … .3). */
export const LOG_ARCHIVES = 3;

/** Settings that a config reload can change. */
export interface LogSettings {
  timeZone: string;
  debug: boolean;
  /** Size at which session_monitor.log rotates; 0 disables it. */
  sessionLogBytes: number;
  /** Size at which error.log rotates; 0 disables it. */
  errorLogBytes: number;
}

/** Options of {@link AgentLogs}. */
export interface AgentLogsOptions extends LogSettings {
  /** Also write each line here (the console in foreground mode). */
  echo?: (line: string) => void;
  /** Current time in epoch milliseconds (default: the system clock's wall time). */
  now?: () => number;
}

/** One size-rotated append-only file. */
class RotatingFile {
  #path: string;
  #file: Deno.FsFile | undefined;
  #size = 0;
  #limit: number;
  #failed = false;

  constructor(path: string, limitBytes: number) {
    this.#path = path;
    this.#limit = limitBytes;
  }

  set limit(bytes: number) {
    this.#limit = bytes;
    if (bytes === 0) this.close();
  }

  /** Appends `line`; returns why it cannot, the first time it cannot (else undefined). */
  write(line: string): string | undefined {
    if (this.#limit === 0) return undefined;
    const bytes = new TextEncoder().encode(line);
    try {
      this.#open();
      if (this.#size > 0 && this.#size + bytes.length > this.#limit) this.#rotate();
      this.#open();
      this.#file!.writeSync(bytes);
      this.#size += bytes.length;
      this.#failed = false;
    } catch (error) {
      // A log that cannot be written (full disk, permissions) must not stop the agent: the
      // journal is what must not fail. Say it once on stderr, then keep trying quietly.
      this.close();
      if (!this.#failed) {
        this.#failed = true;
        const message = redact(`Cannot write ${this.#path}: ${errorText(error)}`);
        console.error(message);
        return message;
      }
    }
    return undefined;
  }

  #open(): void {
    if (this.#file) return;
    // Never through a link or into a special file planted under the log's name.
    this.#file = openRegularSync(this.#path, { append: true, create: true, mode: 0o600 });
    this.#size = this.#file.statSync().size;
  }

  #rotate(): void {
    this.close();
    archiveFileSync(this.#path, { keep: LOG_ARCHIVES, naming: "appended" });
  }

  close(): void {
    try {
      this.#file?.close();
    } catch { /* already closed */ }
    this.#file = undefined;
  }
}

/** session_monitor.log and error.log in one folder. */
export class AgentLogs {
  /** The process's redactor (src/log/redact.ts), which every line passes. */
  readonly redactor: Redactor = redactor;
  #session: RotatingFile;
  #errors: RotatingFile;
  #settings: LogSettings;
  #echo?: (line: string) => void;
  #now: () => number;

  constructor(dir: string, options: AgentLogsOptions) {
    this.#settings = { ...options };
    this.#echo = options.echo;
    this.#now = options.now ?? systemClock.wallNow;
    this.#session = new RotatingFile(join(dir, "session_monitor.log"), options.sessionLogBytes);
    this.#errors = new RotatingFile(join(dir, "error.log"), options.errorLogBytes);
  }

  /** Applies new settings after a config reload. */
  configure(settings: LogSettings): void {
    this.#settings = { ...settings };
    this.#session.limit = settings.sessionLogBytes;
    this.#errors.limit = settings.errorLogBytes;
  }

  /** Writes one line; bound, so it can be handed around as a {@link LogFn}. */
  log: LogFn = (level, message) => {
    if (level === "debug" && !this.#settings.debug) return;
    const line = `${this.#stamp()} ${level.toUpperCase().padEnd(5)} ${redact(message)}\n`;
    const failed = this.#session.write(line);
    const errorsFailed = level === "warn" || level === "error"
      ? this.#errors.write(line)
      : undefined;
    // A log that refuses its file (a link planted under its name) is reported in the other.
    if (failed) this.#errors.write(`${this.#stamp()} ERROR ${failed}\n`);
    if (errorsFailed) this.#session.write(`${this.#stamp()} ERROR ${errorsFailed}\n`);
    this.#echo?.(line.trimEnd());
  };

  /** Closes both files; later lines reopen them. */
  close(): void {
    this.#session.close();
    this.#errors.close();
  }

  #stamp(): string {
    const instant = Temporal.Instant.fromEpochMilliseconds(this.#now());
    let zoned: Temporal.ZonedDateTime;
    try {
      zoned = instant.toZonedDateTimeISO(this.#settings.timeZone);
    } catch {
      zoned = instant.toZonedDateTimeISO("UTC");
    }
    return zoned.toPlainDateTime().toString({ fractionalSecondDigits: 3 }) +
      zoned.offset.slice(0, 6);
  }
}
