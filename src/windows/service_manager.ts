/**
 * `--service install|start|stop|restart|remove` on Windows, the service's state for `--status`,
 * and the reload control: everything that talks to the service control manager (SCM) from the
 * command line. Every action needs an elevated process.
 *
 * @module
 */
import { basename, win32 } from "node:path";
import { fileURLToPath } from "node:url";
import {
  advapi32,
  DELETE,
  HKEY_LOCAL_MACHINE_VALUE,
  KEY_READ,
  SC_ACTION_RESTART,
  SC_MANAGER_ALL_ACCESS,
  SC_MANAGER_CONNECT,
  SC_STATUS_PROCESS_INFO,
  SERVICE_ALL_ACCESS,
  SERVICE_AUTO_START,
  SERVICE_CONFIG_DESCRIPTION,
  SERVICE_CONFIG_FAILURE_ACTIONS,
  SERVICE_CONTROL_STOP,
  SERVICE_ERROR_NORMAL,
  SERVICE_QUERY_STATUS,
  SERVICE_RUNNING,
  SERVICE_START,
  SERVICE_STOP,
  SERVICE_STOPPED,
  SERVICE_USER_DEFINED_CONTROL,
  SERVICE_WIN32_OWN_PROCESS,
  TOKEN_QUERY,
  TokenElevation,
} from "../../ffi/advapi32.ts";
import {
  ERROR_SERVICE_ALREADY_RUNNING,
  ERROR_SERVICE_DOES_NOT_EXIST,
  ERROR_SERVICE_NOT_ACTIVE,
  unwrap,
  Win32Error,
} from "../../ffi/error.ts";
import { kernel32 } from "../../ffi/kernel32.ts";
import {
  decodeFailureActions,
  decodeScActions,
  decodeServiceStatusProcess,
  encodeFailureActions,
  encodeScActions,
  encodeServiceDescription,
  readAddress,
  SC_ACTION_SIZE,
  type ScAction,
  SERVICE_STATUS_PROCESS_SIZE,
  SERVICE_STATUS_SIZE,
  type ServiceStatusProcess,
} from "../../ffi/structs.ts";
import { readWide, wide } from "../../ffi/wide.ts";
import {
  CONFIG_KEYS,
  CONFIG_SECTIONS,
  type ConfigKey,
  parseConfig,
  updateConfigFile,
} from "../config.ts";
import { IniDocument } from "../ini.ts";
import { AGENT_PERMISSIONS } from "../../scripts/permissions.ts";
import type { ServiceActionOptions, ServiceState } from "../platform.ts";
import { isReparsePoint, secureDirectory, secureFile } from "./file_security.ts";
import {
  RELOAD_CONTROL,
  SERVICE_DESCRIPTION,
  SERVICE_DISPLAY_NAME,
  SERVICE_NAME,
} from "./service_status.ts";

/** The agent's executable name in the install folder. */
export const EXE_NAME = "winagentUSM.exe";
/**
 * The permissions of the agent when the service runs it under deno.exe (development installs):
 * the agent's own, from scripts/permissions.ts (the same list as `deno task start` and the
 * compiled exe).
 */
export const DEV_PERMISSION_FLAGS: readonly string[] = AGENT_PERMISSIONS;
/** What a non-elevated administrator is told. */
export const ELEVATION_REQUIRED =
  "This needs administrator rights: run this from an elevated Command Prompt (Run as administrator)";
/** How long start, stop and restart wait for the service's new state. */
export const STATE_TIMEOUT_MS = 30_000;
/** Failure actions: restart after 10 s, 10 s, then 60 s; the count resets after a day. */
export const FAILURE_ACTIONS: readonly ScAction[] = [
  { type: SC_ACTION_RESTART, delayMs: 10_000 },
  { type: SC_ACTION_RESTART, delayMs: 10_000 },
  { type: SC_ACTION_RESTART, delayMs: 60_000 },
];
/** Failure count reset period (seconds). */
export const FAILURE_RESET_SECONDS = 86_400;
/** The files of the agent in its install folder, removed by `remove --purge`. */
export const AGENT_FILE_PATTERN =
  /^(config\.ini|status\.json|agent\.lock|winagentUSM\.exe|event_log\..*|error\.log.*|session_monitor\.log.*|\.config\.ini\..*\.tmp)$/i;

const STATE_NAMES: Record<number, string> = {
  1: "STOPPED",
  2: "START_PENDING",
  3: "STOP_PENDING",
  4: "RUNNING",
  5: "CONTINUE_PENDING",
  6: "PAUSE_PENDING",
  7: "PAUSED",
};

/** The name of a service state code, as `sc query` prints it. */
export function stateName(code: number): string {
  return STATE_NAMES[code] ?? `state ${code}`;
}

/**
 * Quotes one argument for a Windows command line so that CommandLineToArgvW (and the C runtime)
 * read it back unchanged: wrapped in double quotes when it is empty or holds a space, a tab or a
 * quote; quotes escaped with a backslash, and backslashes doubled where they precede a quote.
 */
export function quoteArg(arg: string): string {
  if (arg !== "" && !/[\s"]/.test(arg)) return arg;
  let out = '"';
  let backslashes = 0;
  for (const char of arg) {
    if (char === "\\") {
      backslashes++;
      continue;
    }
    if (char === '"') {
      out += "\\".repeat(backslashes * 2 + 1) + '"';
    } else {
      out += "\\".repeat(backslashes) + char;
    }
    backslashes = 0;
  }
  return out + "\\".repeat(backslashes * 2) + '"';
}

/** Always-quoted form of {@link quoteArg}, for paths in a service's binary path. */
export function quotePath(path: string): string {
  const quoted = quoteArg(path);
  return quoted.startsWith('"') ? quoted : `"${quoted}"`;
}

/** True when the agent runs under deno.exe (`deno run mod.ts`) rather than winagentUSM.exe. */
export function isDevelopmentRuntime(execPath: string): boolean {
  return win32.basename(execPath).toLowerCase() === "deno.exe" ||
    basename(execPath).toLowerCase() === "deno";
}

/** Inputs of {@link serviceBinaryPath}. */
export interface BinaryPathOptions {
  /** Deno.execPath(): winagentUSM.exe or deno.exe. */
  execPath: string;
  /** The install folder (holds winagentUSM.exe and config.ini). */
  installDir: string;
  /** Development installs: the checkout's mod.ts, which the service runs with deno.exe. */
  modulePath: string;
}

/**
 * The service's command line (lpBinaryPathName), every path quoted (an unquoted path with spaces
 * is a privilege escalation). Installed: `"<installDir>\winagentUSM.exe" --service run --config
 * "<installDir>\config.ini"`. Development (running under deno.exe): `"<deno.exe>" run
 * <permissions> "<checkout>\mod.ts" --service run --config "<installDir>\config.ini"`.
 */
export function serviceBinaryPath(options: BinaryPathOptions): string {
  const config = quotePath(win32.join(options.installDir, "config.ini"));
  const tail = `--service run --config ${config}`;
  if (isDevelopmentRuntime(options.execPath)) {
    return [
      quotePath(options.execPath),
      "run",
      ...DEV_PERMISSION_FLAGS,
      quotePath(options.modulePath),
      tail,
    ].join(" ");
  }
  return `${quotePath(win32.join(options.installDir, EXE_NAME))} ${tail}`;
}

/**
 * The settings an imported config.ini sets: every known key present (with a non-empty value) in
 * its own section. They win over an existing config.ini on reinstall; other keys are kept.
 */
export function importedSettings(text: string, path: string): Partial<Record<ConfigKey, string>> {
  // The whole file is checked before anything is installed: a bad value stops the install
  // before the folder is made or a running service is stopped, with the file, line and fix.
  parseConfig(text, path, { installDir: windowsInstallDir() });
  const doc = IniDocument.parse(text, path);
  const settings: Partial<Record<ConfigKey, string>> = {};
  for (const key of CONFIG_KEYS) {
    const value = doc.get(CONFIG_SECTIONS[key], key);
    if (value !== undefined && value.trim() !== "") settings[key] = value.trim();
  }
  return settings;
}

/** The default install folder: %ProgramData%\UserSessionMon. */
export function windowsInstallDir(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): string {
  return win32.join(env("ProgramData") || "C:\\ProgramData", "UserSessionMon");
}

// ---------------------------------------------------------------------------------------------
// Everything below calls into the system (Windows only).

/** True when this process runs elevated (TokenElevation). */
export function isElevated(): boolean {
  const token = new BigUint64Array(1);
  unwrap(
    "OpenProcessToken",
    advapi32().OpenProcessToken(kernel32().GetCurrentProcess(), TOKEN_QUERY, token),
  );
  const handle = Deno.UnsafePointer.create(token[0]);
  try {
    const elevation = new Uint32Array(1);
    const length = new Uint32Array(1);
    unwrap(
      "GetTokenInformation",
      advapi32().GetTokenInformation(handle, TokenElevation, elevation, 4, length),
    );
    return elevation[0] !== 0;
  } finally {
    kernel32().CloseHandle(handle);
  }
}

/**
 * Throws {@link ELEVATION_REQUIRED} unless this process may manage services: its token is
 * elevated, or (where TokenElevation says no but the service manager grants full access, as
 * under Wine, whose processes run with a limited token) SC_MANAGER_ALL_ACCESS is granted.
 */
export function requireElevation(): void {
  if (isElevated()) return;
  try {
    openManager(SC_MANAGER_ALL_ACCESS).close();
  } catch (error) {
    throw new Error(ELEVATION_REQUIRED, { cause: error });
  }
}

/** An open SC_HANDLE, closed by `close()` (idempotent). */
export class ScHandle {
  #handle: Deno.PointerValue;
  constructor(handle: Deno.PointerObject) {
    this.#handle = handle;
  }
  get handle(): Deno.PointerObject {
    if (this.#handle === null) throw new Error("Service handle used after close");
    return this.#handle;
  }
  close(): void {
    if (this.#handle === null) return;
    advapi32().CloseServiceHandle(this.#handle);
    this.#handle = null;
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

function openManager(access: number): ScHandle {
  return new ScHandle(
    unwrap("OpenSCManagerW", advapi32().OpenSCManagerW(null, null, access)),
  );
}

/** Opens a service, or returns undefined when it is not installed. */
export function openService(name: string, access: number): ScHandle | undefined {
  using manager = openManager(SC_MANAGER_CONNECT);
  try {
    return new ScHandle(
      unwrap("OpenServiceW", advapi32().OpenServiceW(manager.handle, wide(name), access)),
    );
  } catch (error) {
    if (error instanceof Win32Error && error.code === ERROR_SERVICE_DOES_NOT_EXIST) {
      return undefined;
    }
    // GetLastError read 0: the code was lost (Deno's FFI can clear it between the call and
    // GetLastError). The service's registry key, read with a call that returns its status,
    // tells whether the service exists.
    if (error instanceof Win32Error && error.code === 0 && !serviceKeyExists(name)) {
      return undefined;
    }
    throw error;
  }
}

/** True when HKLM\SYSTEM\CurrentControlSet\Services\<name> exists. */
export function serviceKeyExists(name: string): boolean {
  const key = new BigUint64Array(1);
  const status = advapi32().RegOpenKeyExW(
    Deno.UnsafePointer.create(HKEY_LOCAL_MACHINE_VALUE),
    wide(`SYSTEM\\CurrentControlSet\\Services\\${name}`),
    0,
    KEY_READ,
    key,
  );
  if (status === 0) advapi32().RegCloseKey(Deno.UnsafePointer.create(key[0]));
  return status === 0;
}

/** QueryServiceStatusEx(SC_STATUS_PROCESS_INFO). */
export function queryStatus(service: ScHandle): ServiceStatusProcess {
  const buffer = new Uint8Array(SERVICE_STATUS_PROCESS_SIZE);
  const needed = new Uint32Array(1);
  unwrap(
    "QueryServiceStatusEx",
    advapi32().QueryServiceStatusEx(
      service.handle,
      SC_STATUS_PROCESS_INFO,
      buffer,
      buffer.byteLength,
      needed,
    ),
  );
  return decodeServiceStatusProcess(buffer);
}

/** Sends a control code; returns the status the service reported. */
export function controlService(service: ScHandle, control: number): void {
  const status = new Uint8Array(SERVICE_STATUS_SIZE);
  unwrap(`ControlService(${control})`, advapi32().ControlService(service.handle, control, status));
}

/**
 * Polls until the service reaches `state` or `timeoutMs` passes (waiting for RUNNING also ends
 * when the service falls back to STOPPED); returns the last status.
 */
export async function waitForState(
  service: ScHandle,
  state: number,
  timeoutMs = STATE_TIMEOUT_MS,
): Promise<ServiceStatusProcess> {
  const started = Date.now();
  let status = queryStatus(service);
  let moved = false; // a service that was pending and fell back to STOPPED has failed
  while (status.currentState !== state && Date.now() - started < timeoutMs) {
    if (status.currentState !== SERVICE_STOPPED) moved = true;
    else if (state === SERVICE_RUNNING && (moved || Date.now() - started > 3_000)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
    status = queryStatus(service);
  }
  return status;
}

function describe(status: ServiceStatusProcess): string {
  let text = stateName(status.currentState);
  if (status.processId) text += ` (pid ${status.processId})`;
  if (status.currentState === SERVICE_STOPPED && status.win32ExitCode !== 0) {
    text += status.win32ExitCode === 1066
      ? ` with service exit code ${status.serviceSpecificExitCode}`
      : ` with error ${status.win32ExitCode}`;
  }
  return text;
}

/** Starts the service and waits for RUNNING; returns the exit code (0 when RUNNING). */
async function startService(name: string, print: (line: string) => void): Promise<number> {
  using service = openService(name, SERVICE_START | SERVICE_QUERY_STATUS);
  if (!service) throw new Error(`Service ${name} is not installed: run --service install`);
  try {
    unwrap("StartServiceW", advapi32().StartServiceW(service.handle, 0, null));
  } catch (error) {
    if (!(error instanceof Win32Error && error.code === ERROR_SERVICE_ALREADY_RUNNING)) {
      throw error;
    }
  }
  const status = await waitForState(service, SERVICE_RUNNING);
  print(`Service ${name}: ${describe(status)}`);
  return status.currentState === SERVICE_RUNNING ? 0 : 1;
}

/** Stops the service and waits for STOPPED; returns the exit code (0 when STOPPED). */
async function stopService(name: string, print: (line: string) => void): Promise<number> {
  using service = openService(name, SERVICE_STOP | SERVICE_QUERY_STATUS);
  if (!service) {
    print(`Service ${name} is not installed`);
    return 0;
  }
  if (queryStatus(service).currentState !== SERVICE_STOPPED) {
    try {
      controlService(service, SERVICE_CONTROL_STOP);
    } catch (error) {
      if (!(error instanceof Win32Error && error.code === ERROR_SERVICE_NOT_ACTIVE)) throw error;
    }
  }
  const status = await waitForState(service, SERVICE_STOPPED);
  print(`Service ${name}: ${describe(status)}`);
  return status.currentState === SERVICE_STOPPED ? 0 : 1;
}

function configureService(service: ScHandle): void {
  const description = wide(SERVICE_DESCRIPTION);
  unwrap(
    "ChangeServiceConfig2W(SERVICE_CONFIG_DESCRIPTION)",
    advapi32().ChangeServiceConfig2W(
      service.handle,
      SERVICE_CONFIG_DESCRIPTION,
      encodeServiceDescription(pointerValue(description)),
    ),
  );
  const actions = encodeScActions(FAILURE_ACTIONS);
  unwrap(
    "ChangeServiceConfig2W(SERVICE_CONFIG_FAILURE_ACTIONS)",
    advapi32().ChangeServiceConfig2W(
      service.handle,
      SERVICE_CONFIG_FAILURE_ACTIONS,
      encodeFailureActions({
        resetPeriodSeconds: FAILURE_RESET_SECONDS,
        rebootMessage: 0n,
        command: 0n,
        actionCount: FAILURE_ACTIONS.length,
        actions: pointerValue(actions),
      }),
    ),
  );
}

function pointerValue(buffer: BufferSource): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}

/** Creates the service, or updates its configuration when it exists. Returns "created" or "updated". */
export function createOrUpdateService(
  name: string,
  binaryPath: string,
  displayName = SERVICE_DISPLAY_NAME,
): "created" | "updated" {
  using manager = openManager(SC_MANAGER_ALL_ACCESS);
  let service: ScHandle;
  let outcome: "created" | "updated" = "updated";
  const existing = advapi32().OpenServiceW(manager.handle, wide(name), SERVICE_ALL_ACCESS);
  if (existing !== null) {
    service = new ScHandle(existing);
    try {
      unwrap(
        "ChangeServiceConfigW",
        advapi32().ChangeServiceConfigW(
          service.handle,
          SERVICE_WIN32_OWN_PROCESS,
          SERVICE_AUTO_START,
          SERVICE_ERROR_NORMAL,
          wide(binaryPath),
          null,
          null,
          null,
          wide("LocalSystem"),
          null,
          wide(displayName),
        ),
      );
    } catch (error) {
      service.close();
      throw error;
    }
  } else {
    outcome = "created";
    service = new ScHandle(unwrap(
      "CreateServiceW",
      advapi32().CreateServiceW(
        manager.handle,
        wide(name),
        wide(displayName),
        SERVICE_ALL_ACCESS,
        SERVICE_WIN32_OWN_PROCESS,
        SERVICE_AUTO_START,
        SERVICE_ERROR_NORMAL,
        wide(binaryPath),
        null,
        null,
        null,
        null, // LocalSystem
        null,
      ),
    ));
  }
  try {
    configureService(service);
  } finally {
    service.close();
  }
  return outcome;
}

function queryConfig2(service: ScHandle, level: number, what: string): Uint8Array {
  const buffer = new Uint8Array(8_192);
  const needed = new Uint32Array(1);
  unwrap(
    `QueryServiceConfig2W(${what})`,
    advapi32().QueryServiceConfig2W(service.handle, level, buffer, buffer.byteLength, needed),
  );
  return buffer;
}

/** A service's description, read back (QueryServiceConfig2W). */
export function queryServiceDescription(service: ScHandle): string {
  const buffer = queryConfig2(service, SERVICE_CONFIG_DESCRIPTION, "description");
  return readWide(Deno.UnsafePointer.create(readAddress(buffer)));
}

/** A service's failure actions, read back (QueryServiceConfig2W). */
export function queryFailureActions(
  service: ScHandle,
): { resetPeriodSeconds: number; actions: ScAction[] } {
  const failure = decodeFailureActions(
    queryConfig2(service, SERVICE_CONFIG_FAILURE_ACTIONS, "failure actions"),
  );
  const actionBytes = new Uint8Array(failure.actionCount * SC_ACTION_SIZE);
  if (failure.actionCount > 0) {
    new Deno.UnsafePointerView(Deno.UnsafePointer.create(failure.actions)!).copyInto(actionBytes);
  }
  return {
    resetPeriodSeconds: failure.resetPeriodSeconds,
    actions: decodeScActions(actionBytes, failure.actionCount),
  };
}

/** Deletes the service (after it stopped). Returns false when it was not installed. */
export function deleteService(name: string): boolean {
  using service = openService(name, DELETE | SERVICE_QUERY_STATUS);
  if (!service) return false;
  unwrap("DeleteService", advapi32().DeleteService(service.handle));
  return true;
}

/** Options of {@link WindowsServiceManager}. */
export interface ServiceManagerOptions {
  serviceName?: string;
  /** Default install folder (the default of install_dir). */
  installDir?: string;
  /** Deno.execPath(). */
  execPath?: string;
  /** The checkout's mod.ts, for development installs. */
  modulePath?: string;
}

/** The SCM side of the Windows platform. */
export class WindowsServiceManager {
  #name: string;
  #installDir: string;
  #execPath: string;
  #modulePath: string;

  constructor(options: ServiceManagerOptions = {}) {
    this.#name = options.serviceName ?? SERVICE_NAME;
    this.#installDir = options.installDir ?? windowsInstallDir();
    this.#execPath = options.execPath ?? Deno.execPath();
    this.#modulePath = options.modulePath ??
      fileURLToPath(new URL("../../mod.ts", import.meta.url));
  }

  /** `--service <action>`; returns the exit code. */
  async action(
    action: "install" | "start" | "stop" | "restart" | "remove" | "uninstall",
    options: ServiceActionOptions,
  ): Promise<number> {
    requireElevation();
    const print = options.print;
    switch (action) {
      case "install":
        return await this.install(options);
      case "start":
        return await startService(this.#name, print);
      case "stop":
        return await stopService(this.#name, print);
      case "restart": {
        const stopped = await stopService(this.#name, print);
        if (stopped !== 0) return stopped;
        return await startService(this.#name, print);
      }
      case "remove":
      case "uninstall":
        return await this.remove(options);
    }
  }

  /** Installs (or upgrades) the agent and the service, then starts it. */
  async install(options: ServiceActionOptions): Promise<number> {
    const print = options.print;
    let settings: Partial<Record<ConfigKey, string>> = {};
    if (options.configPath) {
      const text = await Deno.readTextFile(options.configPath).catch((error) => {
        throw new Error(`Cannot read the config to import ${options.configPath}: ${error.message}`);
      });
      settings = importedSettings(text, options.configPath);
    }
    settings = { ...settings, ...options.settings };
    const installDir = settings.install_dir ?? this.#installDir;
    settings.install_dir = installDir;

    // The folder: never through a junction or link; its protected DACL before any file in it.
    if (isReparsePoint(installDir)) {
      throw new Error(
        `Refusing to install into ${installDir}: it is a junction or symbolic link: remove it or choose another install_dir`,
      );
    }
    await Deno.mkdir(installDir, { recursive: true });
    await secureDirectory(installDir);
    print(`Install folder ${installDir}: restricted to SYSTEM and Administrators`);

    // Stop a running service first (an upgrade replaces its executable).
    await stopService(this.#name, () => {});

    if (!isDevelopmentRuntime(this.#execPath)) {
      const target = win32.join(installDir, EXE_NAME);
      if (win32.resolve(this.#execPath).toLowerCase() !== win32.resolve(target).toLowerCase()) {
        await Deno.copyFile(this.#execPath, target);
        await secureFile(target);
        print(`Copied ${this.#execPath} to ${target}`);
      }
    }

    const configPath = win32.join(installDir, "config.ini");
    const existed = await Deno.stat(configPath).then(() => true, () => false);
    await updateConfigFile(configPath, settings, { installDir, secureFile });
    print(
      `${existed ? "Updated" : "Wrote"} ${configPath}` +
        (options.configPath ? ` with the settings of ${options.configPath}` : ""),
    );

    const binaryPath = serviceBinaryPath({
      execPath: this.#execPath,
      installDir,
      modulePath: this.#modulePath,
    });
    const outcome = createOrUpdateService(this.#name, binaryPath);
    print(`Service ${this.#name} ${outcome}: ${binaryPath}`);
    return await startService(this.#name, print);
  }

  /**
   * Stops and deletes the service; with `purge`, also the agent's files in the install folder
   * (the folder of `configPath` when given, else the default), and the folder once empty.
   */
  async remove(options: ServiceActionOptions): Promise<number> {
    const print = options.print;
    const stopped = await stopService(this.#name, print);
    if (deleteService(this.#name)) print(`Service ${this.#name} removed`);
    if (stopped !== 0) print("The service did not stop in time: it is removed once it stops");
    // `--config <installDir>\config.ini` names the installed agent's folder; default the default.
    const installDir = options.configPath ? win32.dirname(options.configPath) : this.#installDir;
    if (!options.purge) {
      print(`Kept config.ini and event_log.csv in ${installDir} (use --purge to delete them)`);
      return 0;
    }
    if (isReparsePoint(installDir)) {
      throw new Error(`Refusing to purge ${installDir}: it is a junction or symbolic link`);
    }
    let removed = 0;
    const kept: string[] = [];
    try {
      for await (const entry of Deno.readDir(installDir)) {
        if (entry.isFile && AGENT_FILE_PATTERN.test(entry.name)) {
          await Deno.remove(win32.join(installDir, entry.name));
          removed++;
        } else {
          kept.push(entry.name);
        }
      }
      if (kept.length === 0) await Deno.remove(installDir);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    print(
      `Purged ${removed} file(s) from ${installDir}` +
        (kept.length > 0 ? `; kept what the agent did not create: ${kept.join(", ")}` : ""),
    );
    return 0;
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
