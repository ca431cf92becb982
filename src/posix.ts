/**
 * The platform for Linux and macOS: no service manager (run the agent in the foreground, e.g.
 * under systemd), POSIX modes for file security, SIGINT/SIGTERM to stop.
 *
 * @module
 */
import { join } from "node:path";
import type { Platform, ServiceHooks } from "./platform.ts";

/**
 * The default folder of the agent's files on POSIX systems: /var/lib/UserSessionMon for root,
 * otherwise $XDG_STATE_HOME/UserSessionMon (default ~/.local/state/UserSessionMon).
 */
export function posixInstallDir(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
  uid: number | null = Deno.uid(),
): string {
  if (uid === 0) return "/var/lib/UserSessionMon";
  const state = env("XDG_STATE_HOME") || join(env("HOME") ?? "/tmp", ".local", "state");
  return join(state, "UserSessionMon");
}

/** Creates the POSIX platform. */
export function createPosixPlatform(): Platform {
  return {
    name: Deno.build.os,
    defaultInstallDir: () => posixInstallDir(),
    async secureDirectory(path) {
      await Deno.chmod(path, 0o700);
    },
    async secureFile(path) {
      await Deno.chmod(path, 0o600);
    },
    serviceAction(action) {
      return Promise.reject(
        new Error(
          `--service ${action} is only available on Windows: on ${Deno.build.os} run the agent in the foreground with --service run (for example from a systemd unit)`,
        ),
      );
    },
    serviceState: () => Promise.resolve(undefined),
    notifyReload: () => Promise.resolve(false),
    runService: runInForeground,
  };
}

/**
 * Runs the agent in the foreground until SIGINT or SIGTERM, then stops it cleanly. Returns 0
 * after a clean stop, 1 when the agent could not start.
 */
export async function runInForeground(hooks: ServiceHooks): Promise<number> {
  const { promise: stopped, resolve: stop } = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT", "SIGBREAK"] : [
    "SIGINT",
    "SIGTERM",
  ];
  const listeners = signals.map((signal) => {
    const listener = () => stop(signal);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  try {
    try {
      await hooks.start();
    } catch (error) {
      hooks.log("error", `The agent could not start: ${(error as Error).message}`);
      return 1;
    }
    const signal = await stopped;
    hooks.log("info", `${signal} received`);
    await hooks.stop();
    return 0;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}
