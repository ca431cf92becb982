/**
 * The Linux session source: systemd-logind's sessions as the core's session changes. At start
 * it connects to the system bus, takes a shutdown delay inhibitor and reads the sessions
 * present; then it follows logind's signals (`SessionNew`, `SessionRemoved`, a session's
 * `LockedHint` change, `PrepareForShutdown`) until it is closed. On `PrepareForShutdown(true)`
 * it hands the shutdown to its owner (which journals the Logoffs of the users still logged on)
 * and releases the inhibitor once that is done.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import type { LogFn } from "../log/log.ts";
import type { PresentSession, SessionChange, SessionSink, SessionSource } from "../platform.ts";
import { errorText } from "../text.ts";
import {
  type DBusSignal,
  type Inhibitor,
  LOGIN1_PATH,
  LogindBus,
  MANAGER,
  SESSION,
  systemBusAddress,
} from "./logind_bus.ts";
import { describeSession, LogindSessions } from "./logind_sessions.ts";

export { LogindUnavailableError, systemBusAddress } from "./logind_bus.ts";

/** Options of {@link LogindSource.open}. */
export interface LogindSourceOptions {
  log: LogFn;
  /** The bus address (default: {@link systemBusAddress}). */
  address?: string;
  /** The time of each change (default: the system clock's wall time). */
  clock?: Pick<Clock, "wallNow">;
  /**
   * `PrepareForShutdown(true)`: resolves once the shutdown's events are journaled; then the
   * inhibitor is released and the source ends.
   */
  onShutdown: () => Promise<void>;
}

/** systemd-logind as a {@link SessionSource}. */
export class LogindSource implements SessionSource {
  readonly description = "systemd-logind";
  #bus: LogindBus;
  #options: LogindSourceOptions;
  #inhibitor: Inhibitor | undefined;
  #sessions = new LogindSessions();
  #closed = false;
  #running: Promise<void> | undefined;
  #shuttingDown = false;
  /** A snapshot being read: a close meanwhile leaves the connection to it. */
  #reading: Promise<unknown> | undefined;

  private constructor(bus: LogindBus, options: LogindSourceOptions) {
    this.#bus = bus;
    this.#options = options;
  }

  /**
   * Connects to logind and takes the shutdown delay inhibitor. Throws a LogindUnavailableError
   * when there is no system bus or no logind on it (a container).
   */
  static async open(options: LogindSourceOptions): Promise<LogindSource> {
    const address = options.address ?? systemBusAddress();
    const bus = await LogindBus.open(address);
    const source = new LogindSource(bus, options);
    try {
      source.#inhibitor = await bus.inhibitShutdown(
        "winagentUSM",
        "Recording the Logoff of each user still logged on",
      );
    } catch (error) {
      // Sessions are still followed; only the shutdown's Logoffs may be cut short.
      options.log("warn", `logind: no shutdown delay inhibitor: ${errorText(error)}`);
    }
    options.log("info", `Following systemd-logind's sessions on the system bus at ${address}`);
    return source;
  }

  /** The user sessions logind has now (greeters, services and closing sessions left out). */
  async presentSessions(): Promise<PresentSession[] | undefined> {
    if (this.#closed) return undefined;
    const reading = this.#bus.sessions();
    this.#reading = reading;
    try {
      return this.#sessions.present(await reading);
    } finally {
      this.#reading = undefined;
      if (this.#closed && !this.#running) this.#end();
    }
  }

  /** Follows logind's signals; a snapshot being read (presentSessions) is read first. */
  run(sink: SessionSink): Promise<void> {
    const reading = this.#reading?.catch(() => {});
    this.#running ??= (async () => {
      await reading;
      await this.#follow(sink);
    })().finally(() => this.#end());
    return this.#running;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#running) this.#bus.interrupt();
    else if (!this.#reading) this.#end();
  }

  async #follow(sink: SessionSink): Promise<void> {
    const { log } = this.#options;
    while (!this.#closed) {
      const signal = await this.#bus.nextSignal();
      if (!signal) return;
      try {
        if (await this.#handle(signal, sink)) return;
      } catch (error) {
        // One signal the agent cannot follow must not end the source: say so and go on.
        log("error", `logind: ${signal.member} not followed: ${errorText(error)}`);
      }
    }
  }

  /** Follows one signal; true when it ends the source (a shutdown). */
  async #handle(signal: DBusSignal, sink: SessionSink): Promise<boolean> {
    const at = Temporal.Instant.fromEpochMilliseconds(
      (this.#options.clock ?? systemClock).wallNow(),
    );
    let change: SessionChange | undefined;
    if (signal.path === LOGIN1_PATH && signal.interface === MANAGER) {
      const [first, second] = signal.args;
      if (signal.member === "SessionNew") {
        const session = await this.#bus.session(String(first), String(second));
        if (session) {
          change = this.#sessions.added(session, at);
          this.#options.log(
            "debug",
            `logind: ${describeSession(session)} of ${session.name} (class ${session.class}) new`,
          );
        }
      } else if (signal.member === "SessionRemoved") {
        change = this.#sessions.removed(String(second), at);
      } else if (signal.member === "PrepareForShutdown" && first === true) {
        await this.#shutdown();
        return true;
      }
    } else if (signal.member === "PropertiesChanged" && signal.args[0] === SESSION) {
      change = this.#sessions.changed(signal.path, signal.args[1] as Record<string, unknown>, at);
    }
    if (change) await sink(change);
    return false;
  }

  async #shutdown(): Promise<void> {
    this.#options.log("info", "logind: the machine is shutting down");
    this.#shuttingDown = true;
    try {
      await this.#options.onShutdown();
    } finally {
      this.#shuttingDown = false;
      this.#inhibitor?.release();
    }
  }

  /** Releases the inhibitor (unless a shutdown still journals) and closes the connection. */
  #end(): void {
    this.#closed = true;
    if (!this.#shuttingDown) this.#inhibitor?.release();
    this.#bus.close();
  }
}
