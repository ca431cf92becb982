/**
 * The simulated session source of `--simulate <file|->`: JSON Lines of session changes, one
 * object per line, fed into the full pipeline exactly as the Windows service's notifications are.
 *
 * ```json
 * {"type":"present","user":"bob","session":3,"logonAt":"2025-04-27T06:58:00Z"}
 * {"type":"clock","at":"2025-04-27T07:00:00Z"}
 * {"type":"logon","user":"alice","session":2,"at":"2025-04-27T07:06:14Z"}
 * {"type":"disconnect","user":"alice","session":2,"remote":true}
 * {"type":"shutdown","at":"2025-04-27T18:00:00Z"}
 * ```
 *
 * `at` is optional (default: when the line is read). The agent's wall clock follows the input:
 * a `clock` line sets it, any line whose `at` is later than the clock moves it on (it then runs
 * on from there), so the times the agent takes itself (sessions.json, the shutdown's Logoffs, a Logon
 * learnt at start) belong to the simulated day. Leading `present` lines are the sessions
 * present when the agent starts; `stop`, `shutdown` and `power-loss` end the run (a service
 * stop, a machine shutdown, a power cut: the process ends at once, closing nothing). A malformed
 * line is reported with its number and reason and skipped; it never stops the agent.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import { EVENT_TYPES } from "../event.ts";
import type { LogFn } from "../log/log.ts";
import type {
  PresentSession,
  SessionChange,
  SessionChangeType,
  SessionSink,
  SessionSource,
} from "../platform.ts";
import { errorText, parseJsonObject, readLines } from "../text.ts";

/** The accepted values of "type": the event types in lower case, as the session changes spell them. */
const TYPES: readonly string[] = [
  ...EVENT_TYPES.map((type) => type.toLowerCase()),
  "disconnect",
  "reconnect",
];

/** The first instant an `at` may name (0002-01-01T00:00:00Z) and the one after the last. */
const FIRST_INSTANT_MS = Temporal.Instant.from("0002-01-01T00:00:00Z").epochMilliseconds;
const AFTER_LAST_INSTANT_MS = Temporal.Instant.from("9999-01-01T00:00:00Z").epochMilliseconds;

/**
 * Parses one line of simulated input. Throws a TypeError whose message says what is wrong.
 * `now` is the instant used when the line has no `at`.
 */
export function parseSimulatedLine(line: string, now: Temporal.Instant): SessionChange {
  const record = parseJsonObject(line);
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
  const change: SessionChange = {
    type: type.toLowerCase() as SessionChangeType,
    user,
    domain,
    session,
    at,
  };
  if (record.remote === true) change.remote = true;
  return change;
}

/** How a simulated run ends: a service stop, a machine shutdown, or a power cut. */
export type SimulatedEnd = "stop" | "shutdown" | "power-loss";

/** One line of simulated input, parsed. */
export type SimulatedLine =
  | { kind: "change"; change: SessionChange }
  /** `session` is absent for `{"type":"present","none":true}`: a snapshot without sessions. */
  | { kind: "present"; session?: PresentSession }
  | { kind: "clock"; at: Temporal.Instant }
  | { kind: "end"; end: SimulatedEnd; at?: Temporal.Instant };

function optionalInstant(record: Record<string, unknown>, name: string) {
  const value = record[name];
  if (value === undefined) return undefined;
  try {
    if (typeof value !== "string") throw new TypeError();
    return Temporal.Instant.from(value);
  } catch {
    throw new TypeError(
      `"${name}" is not an RFC 3339 instant with an offset: ${JSON.stringify(value)}`,
    );
  }
}

/**
 * Parses one line of simulated input: a session change (see {@link parseSimulatedLine}), a
 * `present` session, a `clock` setting, or the end of the run (`stop`, `shutdown`,
 * `power-loss`). Throws a TypeError whose message says what is wrong.
 */
export function parseSimulatedInput(line: string, now: Temporal.Instant): SimulatedLine {
  let record: Record<string, unknown> | undefined;
  try {
    const value = JSON.parse(line);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) record = value;
  } catch { /* parseSimulatedLine names the problem */ }
  const type = typeof record?.type === "string" ? record.type.toLowerCase() : undefined;
  if (!record || type === undefined || TYPES.includes(type)) {
    return { kind: "change", change: parseSimulatedLine(line, now) };
  }
  if (type === "clock") {
    const at = optionalInstant(record, "at");
    if (!at) throw new TypeError(`a "clock" line needs "at"`);
    return { kind: "clock", at };
  }
  if (type === "stop" || type === "shutdown" || type === "power-loss") {
    return { kind: "end", end: type, at: optionalInstant(record, "at") };
  }
  if (type !== "present") {
    throw new TypeError(
      `"type" must be one of ${
        [...TYPES, "present", "clock", "stop", "shutdown", "power-loss"].join(", ")
      } (got ${JSON.stringify(record.type)})`,
    );
  }
  if (record.none === true) {
    if (record.user !== undefined) {
      throw new TypeError(`a "present" line with "none" has no "user"`);
    }
    return { kind: "present" };
  }
  const { user, session, domain } = parseSimulatedLine(
    JSON.stringify({ ...record, type: "logon", at: undefined }),
    now,
  );
  if (user.trim() === "") throw new TypeError(`a "present" line needs "user"`);
  const state = record.state ?? "active";
  if (state !== "active" && state !== "disconnected") {
    throw new TypeError(
      `"state" must be "active" or "disconnected" (got ${JSON.stringify(state)})`,
    );
  }
  if (record.locked !== undefined && typeof record.locked !== "boolean") {
    throw new TypeError(`"locked" must be true or false`);
  }
  const present: PresentSession = { session, user, state };
  if (domain) present.domain = domain;
  const logonAt = optionalInstant(record, "logonAt");
  if (logonAt) present.logonAt = logonAt;
  const connectedAt = optionalInstant(record, "connectedAt");
  if (connectedAt) present.connectedAt = connectedAt;
  if (typeof record.locked === "boolean") present.locked = record.locked;
  if (record.remote === true) present.remote = true;
  return { kind: "present", session: present };
}

/**
 * The agent's clock in a simulated run: monotonic time and timers are the system's; the wall
 * clock is the system's until the input sets it ({@link SimulatedClock.set}), then runs on
 * from the time set. Only a `clock` line sets it back.
 */
export class SimulatedClock implements Clock {
  #base: Clock;
  #wallAt: number | undefined;
  #monotonicAt = 0;
  /** Called after the wall clock moved forward by `ms` at once. */
  onAdvance: ((ms: number) => void) | undefined;

  constructor(base: Clock = systemClock) {
    this.#base = base;
  }

  /** Sets the wall clock to `at` if that is later than now. */
  advanceTo(at: Temporal.Instant): void {
    if (at.epochMilliseconds > this.wallNow()) this.set(at);
  }

  /** Sets the wall clock to `at` (a `clock` line: the scenario's day may lie in the past). */
  set(at: Temporal.Instant): void {
    const before = this.wallNow();
    this.#wallAt = at.epochMilliseconds;
    this.#monotonicAt = this.#base.monotonic();
    if (this.#wallAt > before) this.onAdvance?.(this.#wallAt - before);
  }

  monotonic(): number {
    return this.#base.monotonic();
  }
  wallNow(): number {
    if (this.#wallAt === undefined) return this.#base.wallNow();
    return this.#wallAt + Math.floor(this.#base.monotonic() - this.#monotonicAt);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#base.sleep(ms, signal);
  }
  after(ms: number, fn: () => void) {
    return this.#base.after(ms, fn);
  }
  every(ms: number, fn: () => void) {
    return this.#base.every(ms, fn);
  }
  random(): number {
    return this.#base.random();
  }
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
  /** Set by `clock` lines and lines with a later `at`; without it, they set nothing. */
  simulatedClock?: SimulatedClock;
  /** A `stop`, `shutdown` or `power-loss` line (after it, the input is no longer read). */
  onEnd?: (end: SimulatedEnd) => void;
}

/** Reads JSON Lines and hands each valid change to the sink, in order. */
export class SimulatedSource implements SessionSource {
  #options: SimulatedSourceOptions;
  /** Aborted by close(): ends the pipe the lines are read from, and with it a pending read. */
  #stop = new AbortController();
  #lines: AsyncIterator<string> | undefined;
  #lineNo = 0;
  /** The leading `present` lines, read once by presentSessions() or run(). */
  #snapshot: Promise<PresentSession[] | undefined> | undefined;
  /** The line after the leading `present` lines. */
  #next: SimulatedLine | undefined;
  /** The user of each session, from earlier lines (a disconnect may name only the session). */
  #users = new Map<number, string>();

  constructor(options: SimulatedSourceOptions) {
    this.#options = options;
  }

  /** Opens `--simulate <file|->`. */
  static async open(
    spec: string,
    log: LogFn,
    options: Pick<SimulatedSourceOptions, "clock" | "simulatedClock" | "onEnd"> = {},
  ): Promise<SimulatedSource> {
    if (spec === "-") {
      return new SimulatedSource({
        input: Deno.stdin.readable,
        name: "standard input",
        log,
        ...options,
      });
    }
    const file = await Deno.open(spec, { read: true });
    return new SimulatedSource({ input: file.readable, name: spec, log, ...options });
  }

  /**
   * The sessions of the leading `present` lines (the snapshot ends at the first line of another
   * kind, or at the end of the input); undefined when the input has none (no snapshot: nothing
   * is inferred). `{"type":"present","none":true}` ends it at once: no (other) session is
   * present, and no further line is waited for. `clock` lines among them set the clock. The
   * same promise on every call: run() waits for it before the first change.
   */
  presentSessions(): Promise<PresentSession[] | undefined> {
    return this.#snapshot ??= this.#readSnapshot();
  }

  async #readSnapshot(): Promise<PresentSession[] | undefined> {
    let present: PresentSession[] | undefined;
    while (true) {
      let line: SimulatedLine | undefined;
      try {
        line = await this.#read();
      } catch (error) {
        if (this.#stop.signal.aborted) return undefined; // closed (a stop) while waiting
        throw error;
      }
      if (line?.kind === "clock") {
        this.#options.simulatedClock?.set(line.at);
      } else if (line?.kind === "present") {
        present ??= [];
        if (!line.session) return present; // "none": the snapshot is complete (and empty)
        present.push(line.session);
        this.#users.set(line.session.session, line.session.user);
      } else {
        this.#next = line;
        return present;
      }
    }
  }

  async run(sink: SessionSink): Promise<void> {
    if (this.#stop.signal.aborted) return; // closed before the input began
    await this.presentSessions(); // the leading `present` lines come first
    const { log, name } = this.#options;
    const clock = this.#options.simulatedClock;
    try {
      while (!this.#stop.signal.aborted) {
        const line = this.#next ?? await this.#read();
        this.#next = undefined;
        if (line === undefined) break;
        if (line.kind === "present") {
          log("error", `Skipped line ${this.#lineNo} of ${name}: "present" lines must come first`);
        } else if (line.kind === "clock") {
          clock?.set(line.at);
        } else if (line.kind === "end") {
          if (line.at) clock?.advanceTo(line.at);
          log("info", `Simulated ${line.end} (line ${this.#lineNo} of ${name})`);
          this.#options.onEnd?.(line.end);
          return;
        } else {
          const change = line.change;
          if (change.user.trim() === "") change.user = this.#users.get(change.session) ?? "";
          else this.#users.set(change.session, change.user);
          clock?.advanceTo(change.at);
          try {
            await sink(change);
          } catch (error) {
            // One change the agent cannot take must not end the input: say so and go on.
            log("error", `Skipped line ${this.#lineNo} of ${name}: ${errorText(error)}`);
          }
        }
      }
    } catch (error) {
      if (!this.#stop.signal.aborted) throw error; // closing aborts the read in progress
    }
    // The agent's stop closed the input: it does not "keep running", and says so itself.
    if (this.#stop.signal.aborted) return;
    log(
      "info",
      `Simulated input ${name} ended after ${this.#lineNo} line${
        this.#lineNo === 1 ? "" : "s"
      }; the agent keeps running`,
    );
  }

  close(): void {
    this.#stop.abort();
  }

  /** The next valid line (malformed ones are reported and skipped), undefined at the end. */
  async #read(): Promise<SimulatedLine | undefined> {
    const { log, name } = this.#options;
    const clock = this.#options.clock ?? this.#options.simulatedClock ?? systemClock;
    if (!this.#lines) {
      const input = this.#options.input.pipeThrough(new TransformStream(), {
        signal: this.#stop.signal,
      });
      this.#lines = readLines(input)[Symbol.asyncIterator]();
    }
    while (!this.#stop.signal.aborted) {
      const next = await this.#lines.next();
      if (next.done) return undefined;
      this.#lineNo++;
      if (next.value.trim() === "") continue;
      try {
        return parseSimulatedInput(
          next.value,
          Temporal.Instant.fromEpochMilliseconds(clock.wallNow()),
        );
      } catch (error) {
        log("error", `Skipped line ${this.#lineNo} of ${name}: ${errorText(error)}`);
      }
    }
    return undefined;
  }
}
