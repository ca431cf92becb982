/**
 * The simulated session source of `--simulate <file|->`: JSON Lines of session changes, one
 * object per line, fed into the full pipeline exactly as the Windows service's notifications are.
 *
 * ```json
 * {"type":"logon","user":"alice","session":2,"at":"2025-04-27T07:06:14Z"}
 * ```
 *
 * `at` is optional (default: when the line is read). A malformed line is reported with its
 * number and reason and skipped; it never stops the agent.
 *
 * @module
 */
import type { SessionChange, SessionChangeType, SessionSink, SessionSource } from "./platform.ts";
import type { LogFn } from "./log.ts";

const TYPES = new Set<SessionChangeType>(["logon", "logoff", "lock", "unlock"]);

/**
 * Parses one line of simulated input. Throws a TypeError whose message says what is wrong.
 * `now` is the instant used when the line has no `at`.
 */
export function parseSimulatedLine(line: string, now: Temporal.Instant): SessionChange {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new TypeError(`not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("not a JSON object");
  }
  const record = value as Record<string, unknown>;
  const type = record.type;
  if (typeof type !== "string" || !TYPES.has(type.toLowerCase() as SessionChangeType)) {
    throw new TypeError(
      `"type" must be one of logon, logoff, lock, unlock (got ${JSON.stringify(type)})`,
    );
  }
  const user = record.user ?? "";
  if (typeof user !== "string") throw new TypeError(`"user" must be a string`);
  const session = record.session ?? 1;
  if (typeof session !== "number" || !Number.isInteger(session) || session < 0) {
    throw new TypeError(
      `"session" must be a non-negative integer (got ${JSON.stringify(session)})`,
    );
  }
  let at = now;
  if (record.at !== undefined) {
    if (typeof record.at !== "string") throw new TypeError(`"at" must be an RFC 3339 string`);
    try {
      at = Temporal.Instant.from(record.at);
    } catch {
      throw new TypeError(
        `"at" is not an RFC 3339 instant with an offset: ${JSON.stringify(record.at)}`,
      );
    }
  }
  const domain = typeof record.domain === "string" ? record.domain : undefined;
  return { type: type.toLowerCase() as SessionChangeType, user, domain, session, at };
}

/** Options of {@link SimulatedSource}. */
export interface SimulatedSourceOptions {
  /** A readable of the JSON Lines; `Deno.stdin.readable` for "-". */
  input: ReadableStream<Uint8Array>;
  /** The name used in messages ("standard input" or the file's path). */
  name: string;
  log: LogFn;
}

/** Reads JSON Lines and hands each valid change to the sink, in order. */
export class SimulatedSource implements SessionSource {
  #options: SimulatedSourceOptions;
  #reader: ReadableStreamDefaultReader<string> | undefined;
  #closed = false;

  constructor(options: SimulatedSourceOptions) {
    this.#options = options;
  }

  /** Opens `--simulate <file|->`. */
  static async open(spec: string, log: LogFn): Promise<SimulatedSource> {
    if (spec === "-") {
      return new SimulatedSource({ input: Deno.stdin.readable, name: "standard input", log });
    }
    const file = await Deno.open(spec, { read: true });
    return new SimulatedSource({ input: file.readable, name: spec, log });
  }

  async run(sink: SessionSink): Promise<void> {
    const { log, name } = this.#options;
    this.#reader = this.#options.input.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    let lineNo = 0;
    let readAt = Temporal.Now.instant();
    const handle = async (line: string) => {
      lineNo++;
      if (line.trim() === "") return;
      let change: SessionChange;
      try {
        change = parseSimulatedLine(line.replace(/\r$/, ""), readAt);
      } catch (error) {
        log("error", `Skipped line ${lineNo} of ${name}: ${(error as Error).message}`);
        return;
      }
      await sink(change);
    };
    try {
      while (!this.#closed) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        readAt = Temporal.Now.instant();
        buffered += value;
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0 && !this.#closed) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          await handle(line);
        }
      }
      if (!this.#closed && buffered.length > 0) await handle(buffered);
    } finally {
      this.#release();
    }
    log("info", `Simulated input ${name} ended after ${lineNo} lines; the agent keeps running`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader?.cancel().catch(() => {});
  }

  #release(): void {
    try {
      this.#reader?.releaseLock();
    } catch { /* cancelled */ }
  }
}
