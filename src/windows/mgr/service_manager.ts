/**
 * `--service install|start|stop|restart|remove` on Windows, the service's state for `--status`,
 * and the reload control: the SCM side of the Windows platform, as the command line uses it.
 * Every action needs an elevated process. The service manager calls themselves are in scm.ts;
 * installing, upgrading and removing the agent is in installer.ts.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import {
  SERVICE_QUERY_STATUS,
  SERVICE_RUNNING,
  SERVICE_USER_DEFINED_CONTROL,
} from "../../../ffi/advapi32.ts";
import type { Clock } from "../../clock.ts";
import type { ServiceActionOptions, ServiceState } from "../../platform.ts";
import {
  installAgent,
  removeAgent,
  startAndReport,
  stopAndReport,
  windowsInstallDir,
} from "./installer.ts";
import { requireElevation } from "../security/elevation.ts";
import { controlService, openService, queryStatus, stateName } from "./scm.ts";
import { RELOAD_CONTROL, SERVICE_NAME } from "../svc/service_status.ts";

/** Options of {@link WindowsServiceManager}. */
export interface ServiceManagerOptions {
  serviceName?: string;
  /** Default install folder (the default of install_dir). */
  installDir?: string;
  /** Deno.execPath(). */
  execPath?: string;
  /** The checkout's mod.ts, for development installs. */
  modulePath?: string;
  /** The clock that waits for the service's states read; default the system clock. */
  clock?: Clock;
}

/** The SCM side of the Windows platform. */
export class WindowsServiceManager {
  #name: string;
  #installDir: string;
  #execPath: string;
  #modulePath: string;
  #clock?: Clock;

  constructor(options: ServiceManagerOptions = {}) {
    this.#name = options.serviceName ?? SERVICE_NAME;
    this.#installDir = options.installDir ?? windowsInstallDir();
    this.#execPath = options.execPath ?? Deno.execPath();
    this.#modulePath = options.modulePath ?? entryModulePath();
    this.#clock = options.clock;
  }

  /** `--service <action>`; returns the exit code. */
  async action(
    action: "install" | "start" | "stop" | "restart" | "remove" | "uninstall",
    options: ServiceActionOptions,
  ): Promise<number> {
    requireElevation();
    const report = { print: options.print, clock: this.#clock };
    switch (action) {
      case "install":
        return await this.install(options);
      case "start":
        return await startAndReport(this.#name, report);
      case "stop":
        return await stopAndReport(this.#name, report);
      case "restart": {
        const stopped = await stopAndReport(this.#name, report);
        if (stopped !== 0) return stopped;
        return await startAndReport(this.#name, report);
      }
      case "remove":
      case "uninstall":
        return await this.remove(options);
    }
  }

  /** Installs (or upgrades) the agent and the service, then starts it. */
  async install(options: ServiceActionOptions): Promise<number> {
    return await installAgent(this.#name, {
      ...options,
      installDir: this.#installDir,
      execPath: this.#execPath,
      modulePath: this.#modulePath,
      clock: this.#clock,
    });
  }

  /**
   * Stops and deletes the service; with `purge`, also the agent's files in the install folder
   * (the folder of `configPath` when given, else the default), and the folder once empty.
   */
  async remove(options: ServiceActionOptions): Promise<number> {
    return await removeAgent(this.#name, {
      ...options,
      installDir: this.#installDir,
      clock: this.#clock,
    });
  }

  /** The service's state, or "not installed". */
  state(): ServiceState {
    using service = openService(this.#name, SERVICE_QUERY_STATUS);
    if (!service) return { state: "not installed" };
    const status = queryStatus(service);
    const state: ServiceState = { state: stateName(status.currentState) };
    if (status.processId) state.pid = status.processId;
    return state;
  }

  /** Sends the reload control to the running service; false when that is not possible. */
  notifyReload(): boolean {
    try {
      using service = openService(this.#name, SERVICE_USER_DEFINED_CONTROL | SERVICE_QUERY_STATUS);
      if (!service || queryStatus(service).currentState !== SERVICE_RUNNING) return false;
      controlService(service, RELOAD_CONTROL);
      return true;
    } catch {
      return false;
    }
  }

  /** Sends a user-defined control (128..255) to the running service. */
  control(code: number): void {
    using service = openService(this.#name, SERVICE_USER_DEFINED_CONTROL);
    if (!service) throw new Error(`Service ${this.#name} is not installed`);
    controlService(service, code);
  }
}

/**
 * The module a development install makes the service run: the entry this process was started
 * with (mod.ts, or the test build's entry, whose test controls then exist in the service too),
 * else mod.ts.
 */
function entryModulePath(): string {
  const main = Deno.mainModule;
  if (main.startsWith("file:") && /\.ts$/.test(main)) return fileURLToPath(main);
  return fileURLToPath(new URL("../../../mod.ts", import.meta.url));
}
