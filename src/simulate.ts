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
import { type Clock, systemClock } from "./clock.ts";
import { EVENT_TYPES } from "./event.ts";
import type { LogFn } from "./log.ts";
import type { SessionChange, SessionChangeType, SessionSink, SessionSource } from "./platform.ts";
import { errorText, readLines } from "./text.ts";

/** The accepted values of "type": the event types in lower case, as the session changes spell them. */
const TYPES: readonly string[] = EVENT_TYPES.map((type) => type.toLowerCase());

/** The first instant an `at` may name (0002-01-01T00:00:00Z) and the one after the last. */
const FIRST_INSTANT_MS = Temporal.Instant.from("0002-01-01T00:00:00Z").epochMilliseconds;
const AFTER_LAST_INSTANT_MS = Temporal.Instant.from("9999-01-01T00:00:00Z").epochMilliseconds;

/**
 * Parses one line of simulated input. Throws a TypeError whose message says what is wrong.
 * `now` is the instant used when the line has no `at`.
 */
export function parseSimulatedLine(line: string, now: Temporal.Instant): SessionChange {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new TypeError(`not JSON: ${errorText(error)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("not a JSON object");
  }
  const record = value as Record<string, unknown>;
  const type = record.type;
  if (typeof type !== "string" || !TYPES.includes(type.toLowerCase())) {
    throw new TypeError(
      `"type" must be one of ${TYPES.join(", ")} (got ${JSON.stringify(type)})`,
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
    if (at.epochMilliseconds < FIRST_INSTANT_MS || at.epochMilliseconds >= AFTER_LAST_INSTANT_MS) {
      // Temporal holds ±273,790 years, but a timestamp in any time zone must keep four digits.
      throw new RangeError(
        `"at" is outside the years 0002 to 9998 that an event timestamp can hold: ${
          JSON.stringify(record.at)
        }`,
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
  /** Gives the time of a line without `at` (default: the system clock's wall time). */
  clock?: Pick<Clock, "wallNow">;
}

/** Reads JSON Lines and hands each valid change to the sink, in order. */
export class SimulatedSource implements SessionSource {
  #options: SimulatedSourceOptions;
  /** Aborted by close(): ends the pipe the lines are read from, and with it a pending read. */
  #stop = new AbortController();

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
    const clock = this.#options.clock ?? systemClock;
    const stopped = this.#stop.signal;
    const input = this.#options.input.pipeThrough(new TransformStream(), { signal: stopped });
    let lineNo = 0;
    try {
      for await (const line of readLines(input)) {
        if (stopped.aborted) break;
        lineNo++;
        if (line.trim() === "") continue;
        let change: SessionChange;
        try {
          change = parseSimulatedLine(
            line,
            Temporal.Instant.fromEpochMilliseconds(clock.wallNow()),
          );
        } catch (error) {
          log("error", `Skipped line ${lineNo} of ${name}: ${errorText(error)}`);
          continue;
        }
        try {
          await sink(change);
        } catch (error) {
          // One change the agent cannot take must not end the input: say so and go on.
          log("error", `Skipped line ${lineNo} of ${name}: ${errorText(error)}`);
        }
      }
    } catch (error) {
      if (!stopped.aborted) throw error; // closing aborts the read in progress
    }
    log(
      "info",
      `Simulated input ${name} ended after ${lineNo} line${
        lineNo === 1 ? "" : "s"
      }; the agent keeps running`,
    );
  }

  close(): void {
    this.#stop.abort();
  }
}
