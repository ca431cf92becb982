/**
 * A private system bus (dbus-daemon with its own config on a unix socket in a temporary
 * folder) with a systemd-logind stand-in on it (python3-dbusmock and the template
 * tests/support/logind_mock.py), for the tests of the Linux session source. The test drives the
 * stand-in through its mock methods (a session added, locked, removed; a shutdown) and ends
 * both processes by pid.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type DBusArgument, SdBus } from "../../ffi/linux/sd_bus.ts";

/** The Python that has python3-dbusmock (Debian's, not a version manager's). */
const PYTHON = "/usr/bin/python3";
const TEMPLATE = fileURLToPath(new URL("./logind_mock.py", import.meta.url));
const MOCK_IFACE = "org.freedesktop.DBus.Mock";

/** Why the double cannot run here (dbus-daemon or python3-dbusmock missing), or undefined. */
export function logindDoubleMissing(): string | undefined {
  const run = (cmd: string, args: string[]) => {
    try {
      return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
    } catch {
      return false;
    }
  };
  if (!run("dbus-daemon", ["--version"])) return "dbus-daemon is not installed";
  if (!run(PYTHON, ["-c", "import dbusmock"])) return "python3-dbusmock is not installed";
  return undefined;
}

function busConfig(socket: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`;
}

/** A session as the test adds it. */
export interface MockSession {
  id: string;
  name: string;
  uid?: number;
  class?: string;
  type?: string;
  remote?: boolean;
  /** When it began (default: now). */
  timestamp?: Temporal.Instant;
}

/** The private bus and the logind stand-in on it. */
export class LogindDouble {
  readonly dir: string;
  /** The bus address, for the agent's DBUS_SYSTEM_BUS_ADDRESS. */
  readonly address: string;
  #daemon: Deno.ChildProcess;
  #mock: Deno.ChildProcess | undefined;
  #client: SdBus | undefined;

  private constructor(dir: string, address: string, daemon: Deno.ChildProcess) {
    this.dir = dir;
    this.address = address;
    this.#daemon = daemon;
  }

  /** Starts a bus; with `logind` (the default) the stand-in too, once it is on the bus. */
  static async start(options: { logind?: boolean } = {}): Promise<LogindDouble> {
    const dir = await Deno.makeTempDir({ prefix: "usm-logind-" });
    const socket = join(dir, "system_bus_socket");
    await Deno.writeTextFile(join(dir, "bus.conf"), busConfig(socket));
    const daemon = new Deno.Command("dbus-daemon", {
      args: [`--config-file=${join(dir, "bus.conf")}`, "--nofork", "--nopidfile"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const double = new LogindDouble(dir, `unix:path=${socket}`, daemon);
    try {
      // The socket file appears before the daemon listens on it: wait until a client connects.
      await double.#until(() => {
        try {
          SdBus.open(double.address).close();
          return Promise.resolve(true);
        } catch {
          return Promise.resolve(false);
        }
      });
      if (options.logind !== false) await double.startLogind();
    } catch (error) {
      await double.stop();
      throw error;
    }
    return double;
  }

  /** Starts the logind stand-in and waits until it owns org.freedesktop.login1. */
  async startLogind(): Promise<void> {
    this.#mock = new Deno.Command(PYTHON, {
      args: ["-m", "dbusmock", "--system", "-t", TEMPLATE],
      env: { DBUS_SYSTEM_BUS_ADDRESS: this.address },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#client = SdBus.open(this.address);
    await this.#until(async () => {
      const { values } = await this.#client!.call({
        destination: "org.freedesktop.DBus",
        path: "/org/freedesktop/DBus",
        interface: "org.freedesktop.DBus",
        member: "NameHasOwner",
        args: [["s", "org.freedesktop.login1"]],
      });
      return values[0] === true;
    });
  }

  async #until(ready: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await ready())) {
      if (Date.now() > deadline) throw new Error("the logind double did not come up in 30 s");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async #mockCall(member: string, args: DBusArgument[]) {
    return await this.#client!.call({
      destination: "org.freedesktop.login1",
      path: "/org/freedesktop/login1",
      interface: MOCK_IFACE,
      member,
      args,
    });
  }

  /** Adds a session; `announce` (default true) emits SessionNew, false: present already. */
  async addSession(session: MockSession, announce = true): Promise<void> {
    const at = session.timestamp ?? Temporal.Now.instant();
    await this.#mockCall("NewSession", [
      ["s", session.id],
      ["u", session.uid ?? 1000],
      ["s", session.name],
      ["s", session.class ?? "user"],
      ["s", session.type ?? "x11"],
      ["b", session.remote ?? false],
      ["t", at.epochNanoseconds / 1000n],
      ["b", announce],
    ]);
  }

  /** Sets a session's LockedHint (PropertiesChanged follows). */
  async setLocked(id: string, locked: boolean): Promise<void> {
    await this.#mockCall("SetLocked", [["s", id], ["b", locked]]);
  }

  /** Removes a session (SessionRemoved). */
  async removeSession(id: string): Promise<void> {
    await this.#mockCall("EndSession", [["s", id]]);
  }

  /** Emits PrepareForShutdown(true). */
  async shutdown(): Promise<void> {
    await this.#mockCall("Shutdown", [["b", true]]);
  }

  /** How many inhibitors are held (their fds open). */
  async inhibitorsHeld(): Promise<number> {
    const { values } = await this.#mockCall("InhibitorsHeld", []);
    return values[0] as number;
  }

  /** Ends the stand-in and the bus (by pid) and removes the folder. */
  async stop(): Promise<void> {
    this.#client?.close();
    for (const child of [this.#mock, this.#daemon]) {
      if (!child) continue;
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
