/**
 * The talk with systemd-logind (org.freedesktop.login1) on the system bus, through sd-bus
 * (ffi/linux/): the sessions present, each session's properties, the signals the agent follows,
 * and the shutdown delay inhibitor. What the answers mean is in logind_sessions.ts.
 *
 * @module
 */
import { type DBusSignal, type DBusValue, SdBus, unrefMessage } from "../../ffi/linux/sd_bus.ts";
import { SdBusError } from "../../ffi/linux/libsystemd.ts";
import { type LogindSession, sessionFromProperties } from "./logind_sessions.ts";

export type { DBusSignal };

/** The bus address when `DBUS_SYSTEM_BUS_ADDRESS` is not set (the D-Bus specification's). */
export const DEFAULT_SYSTEM_BUS = "unix:path=/run/dbus/system_bus_socket";

/** logind's well-known name, its manager object and the interfaces the agent reads. */
export const LOGIN1 = "org.freedesktop.login1";
export const LOGIN1_PATH = "/org/freedesktop/login1";
export const MANAGER = "org.freedesktop.login1.Manager";
export const SESSION = "org.freedesktop.login1.Session";
const PROPERTIES = "org.freedesktop.DBus.Properties";

/** The system bus address: `DBUS_SYSTEM_BUS_ADDRESS`, else {@link DEFAULT_SYSTEM_BUS}. */
export function systemBusAddress(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): string {
  return env("DBUS_SYSTEM_BUS_ADDRESS")?.trim() || DEFAULT_SYSTEM_BUS;
}

/** The match rules of the signals the agent follows, all from logind itself. */
export const MATCH_RULES: readonly string[] = [
  `type='signal',sender='${LOGIN1}',path='${LOGIN1_PATH}',interface='${MANAGER}'`,
  `type='signal',sender='${LOGIN1}',interface='${PROPERTIES}',member='PropertiesChanged',` +
  `path_namespace='${LOGIN1_PATH}/session',arg0='${SESSION}'`,
];

/** logind cannot be reached: no system bus, no libsystemd, or no logind on the bus. */
export class LogindUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LogindUnavailableError";
  }
}

/** The shutdown delay inhibitor; {@link release} lets the shutdown go on. */
export interface Inhibitor {
  /** Closes the inhibitor's fd; idempotent. */
  release(): void;
}

/** A connection to logind. One call at a time (the source makes them in order). */
export class LogindBus {
  #bus: SdBus;

  private constructor(bus: SdBus) {
    this.#bus = bus;
  }

  /**
   * Connects to the system bus at `address` and checks that logind is on it. Throws a
   * {@link LogindUnavailableError} that says which of the two is missing.
   */
  static async open(address: string): Promise<LogindBus> {
    let bus: SdBus;
    try {
      bus = SdBus.open(address);
    } catch (error) {
      throw new LogindUnavailableError(
        `cannot connect to the system bus at ${address}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    try {
      const { values } = await bus.call({
        destination: "org.freedesktop.DBus",
        path: "/org/freedesktop/DBus",
        interface: "org.freedesktop.DBus",
        member: "NameHasOwner",
        args: [["s", LOGIN1]],
      });
      if (values[0] !== true) {
        throw new LogindUnavailableError(`${LOGIN1} is not on the system bus at ${address}`);
      }
      for (const rule of MATCH_RULES) bus.addMatch(rule);
      return new LogindBus(bus);
    } catch (error) {
      bus.close();
      if (error instanceof LogindUnavailableError) throw error;
      throw new LogindUnavailableError(
        `cannot ask the system bus at ${address}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** The sessions logind knows now (a session gone while being read is left out). */
  async sessions(): Promise<LogindSession[]> {
    const { values } = await this.#bus.call({
      destination: LOGIN1,
      path: LOGIN1_PATH,
      interface: MANAGER,
      member: "ListSessions",
    });
    const sessions: LogindSession[] = [];
    for (const entry of (values[0] ?? []) as DBusValue[][]) {
      const [id, , , , path] = entry as [string, number, string, string, string];
      const session = await this.session(id, path);
      if (session) sessions.push(session);
    }
    return sessions;
  }

  /** The properties of session `id` at `path`; undefined when it is gone. */
  async session(id: string, path: string): Promise<LogindSession | undefined> {
    try {
      const { values } = await this.#bus.call({
        destination: LOGIN1,
        path,
        interface: PROPERTIES,
        member: "GetAll",
        args: [["s", SESSION]],
      });
      return sessionFromProperties(id, path, (values[0] ?? {}) as Record<string, unknown>);
    } catch (error) {
      if (
        error instanceof SdBusError && error.dbusName === "org.freedesktop.DBus.Error.UnknownObject"
      ) {
        return undefined;
      }
      throw error;
    }
  }

  /**
   * Takes a shutdown delay inhibitor: logind waits (up to its InhibitDelayMaxSec, 5 s by
   * default) for its release before the machine shuts down.
   */
  async inhibitShutdown(who: string, why: string): Promise<Inhibitor> {
    const { message } = await this.#bus.call({
      destination: LOGIN1,
      path: LOGIN1_PATH,
      interface: MANAGER,
      member: "Inhibit",
      args: [["s", "shutdown"], ["s", who], ["s", why], ["s", "delay"]],
      keepReply: true, // the reply owns the inhibitor's fd
    });
    let held = message;
    return {
      release() {
        if (held) unrefMessage(held);
        held = undefined;
      },
    };
  }

  /** The next signal received, waiting for one; undefined once {@link close} was called. */
  async nextSignal(): Promise<DBusSignal | undefined> {
    while (!this.#closing) {
      const signal = this.#bus.nextSignal();
      if (signal) return signal;
      await this.#bus.wait();
    }
    return undefined;
  }

  #closing = false;

  /** Ends a wait in progress; the caller then calls {@link close}. */
  interrupt(): void {
    this.#closing = true;
    this.#bus.interrupt();
  }

  /** Closes the connection (not during a call or a wait: {@link interrupt} first). */
  close(): void {
    this.#closing = true;
    this.#bus.close();
  }
}
