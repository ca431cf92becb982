/**
 * The Windows platform: the service host, the service manager and file security, built on the
 * Win32 bindings in `ffi/`. Loaded by mod.ts only when `Deno.build.os === "windows"`.
 *
 * @module
 */
import type { Platform } from "../platform.ts";
import { WindowsEventLog } from "./eventlog/app_event_log.ts";
import { describeOpenAccess } from "./security/descriptor.ts";
import { readDescriptor, secureDirectory, secureFile } from "./security/file_security.ts";
import { runningUnderWine } from "./security/wine.ts";
import { windowsInstallDir } from "./mgr/installer.ts";
import { runWindowsService } from "./svc/service_host.ts";
import { WindowsServiceManager } from "./mgr/service_manager.ts";
import { WtsSessionSource } from "./svc/session_source.ts";

/** Creates the Windows platform. Opens no library until a method needs one. */
export function createWindowsPlatform(): Platform {
  let manager: WindowsServiceManager | undefined;
  const services = () => manager ??= new WindowsServiceManager();
  let sessions: WtsSessionSource | undefined;
  return {
    name: "windows",
    defaultInstallDir: () => windowsInstallDir(),
    secureDirectory,
    secureFile,
    // Wine stores no owner or DACL (it reports a made-up descriptor): nothing to read there.
    describeOpenAccess: (path) => {
      try {
        return Promise.resolve(
          runningUnderWine() ? undefined : describeOpenAccess(readDescriptor(path)),
        );
      } catch (error) {
        return Promise.reject(error);
      }
    },
    serviceAction: (action, options) => services().action(action, options),
    serviceState: () => {
      try {
        return Promise.resolve(services().state());
      } catch (error) {
        return Promise.reject(error);
      }
    },
    notifyReload: () => Promise.resolve(services().notifyReload()),
    sessionSource: ({ log }) => Promise.resolve(sessions ??= new WtsSessionSource({ log })),
    runService: (hooks) => runWindowsService(hooks, { sessions: () => sessions }),
    systemEventLog: () => {
      try {
        return WindowsEventLog.open();
      } catch {
        return undefined; // no Event Log service: the agent's own logs have the same facts
      }
    },
  };
}
