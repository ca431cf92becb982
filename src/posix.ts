/**
 * The platform for Linux and macOS: no service manager (run the agent in the foreground, e.g.
 * under systemd), POSIX modes for file security, SIGINT/SIGTERM to stop.
 *
 * @module
 */
import { join } from "node:path";
import { runInForeground } from "./foreground.ts";
import type { Platform } from "./platform.ts";

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

/** `Platform.describeOpenAccess` on POSIX: group or other write bits of the folder's mode. */
export async function describePosixOpenAccess(path: string): Promise<string | undefined> {
  const mode = (await Deno.stat(path)).mode;
  if (mode === null || (mode & 0o022) === 0) return undefined;
  const who = (mode & 0o022) === 0o022 ? "group and others" : mode & 0o020 ? "its group" : "others";
  return `${who} (mode ${(mode & 0o7777).toString(8).padStart(4, "0")})`;
}

/** Creates the POSIX platform; `sessionSource` is the session source where there is one. */
export function createPosixPlatform(
  options: Pick<Platform, "sessionSource"> = {},
): Platform {
  return {
    sessionSource: options.sessionSource,
    name: Deno.build.os,
    defaultInstallDir: () => posixInstallDir(),
    async secureDirectory(path, options = {}) {
      if (options.create !== false) await Deno.mkdir(path, { recursive: true, mode: 0o700 });
      await Deno.chmod(path, 0o700);
    },
    async secureFile(path) {
      await Deno.chmod(path, 0o600);
    },
    describeOpenAccess: describePosixOpenAccess,
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
