/**
 * Installing, upgrading and removing the agent as a Windows service, built on the service
 * manager wrapper in scm.ts the way golang.org/x/sys/windows/svc/example's install.go and
 * manage.go are built on svc/mgr: the service's command line (binary path), the config.ini to
 * import, the secured install folder, the copy of the executable, the service's description and
 * failure actions, start and stop as the command line reports them, and `remove --purge`.
 *
 * @module
 */
import { basename, win32 } from "node:path";
import {
  SC_ACTION_RESTART,
  SC_MANAGER_ALL_ACCESS,
  SERVICE_RUNNING,
  SERVICE_STOPPED,
} from "../../../ffi/advapi32.ts";
import { ERROR_SERVICE_MARKED_FOR_DELETE, Win32Error } from "../../../ffi/error.ts";
import type { ScAction } from "../../../ffi/structs.ts";
import type { ServiceActionOptions } from "../../platform.ts";
import type { Clock } from "../../clock.ts";
import { type ConfigKey, importedSettings, updateConfigFile } from "../../config/config.ts";
import { AGENT_PERMISSIONS } from "../../permissions.ts";
import {
  registerEventSourceReporting,
  unregisterEventSourceReporting,
} from "../eventlog/app_event_log.ts";
import { checkDevelopmentInstall } from "../security/dev_install.ts";
import { secureFile } from "../security/file_security.ts";
import {
  EXE_NAME,
  prepareInstallDir,
  purgeInstallDir,
  removeFolderCopy,
  replaceExecutable,
  writeUninstaller,
} from "./install_files.ts";
import { waitForProcessExit } from "./process_wait.ts";
import { deleteSetupApiKey, readSetupApiKey, SETUP_KEY } from "./setup_key.ts";
import { runningUnderWine } from "../security/wine.ts";
import {
  removeServiceEnvironment,
  setFailureActionsOnNonCrash,
  setPreshutdownTimeout,
  setServiceDacl,
} from "./service_config.ts";
import {
  createOrUpdate,
  deleteService,
  describeStatus,
  openManager,
  type ScHandle,
  setDescription,
  setFailureActions,
  startService,
  stopService,
} from "./scm.ts";
import { SERVICE_DESCRIPTION, SERVICE_DISPLAY_NAME } from "../svc/service_status.ts";

export { AGENT_FILE_PATTERN, EXE_NAME } from "./install_files.ts";
/**
 * The permissions of the agent when the service runs it under deno.exe (development installs):
 * the agent's own, from src/permissions.ts (the same list as `deno task start` and the compiled
 * exe).
 */
export const DEV_PERMISSION_FLAGS: readonly string[] = AGENT_PERMISSIONS;
/** Failure actions: restart after 10 s, 10 s, then 60 s; the count resets after a day. */
export const FAILURE_ACTIONS: readonly ScAction[] = [
  { type: SC_ACTION_RESTART, delayMs: 10_000 },
  { type: SC_ACTION_RESTART, delayMs: 10_000 },
  { type: SC_ACTION_RESTART, delayMs: 60_000 },
];
/** Failure count reset period (seconds). */
export const FAILURE_RESET_SECONDS = 86_400;
/** How long an install or remove waits for the stopped service's process to exit. */
export const PROCESS_EXIT_TIMEOUT_MS = 30_000;

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
  /** The exe the service runs where it is (see {@link runsInPlace}); default the folder's copy. */
  exePath?: string;
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
  return `${quotePath(options.exePath ?? win32.join(options.installDir, EXE_NAME))} ${tail}`;
}

/**
 * True when winagentUSM.exe lies in a folder under %ProgramFiles% (where the MSI puts it:
 * writable by administrators only, owned by TrustedInstaller): the service then runs it where
 * it is, and the install folder holds no second copy of the 93 MiB exe.
 */
export function runsInPlace(
  execPath: string,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): boolean {
  if (isDevelopmentRuntime(execPath)) return false;
  const programFiles = env("ProgramFiles");
  if (!programFiles) return false;
  const folder = win32.resolve(programFiles).toLowerCase().replace(/\\+$/, "");
  return win32.resolve(win32.dirname(execPath)).toLowerCase().startsWith(`${folder}\\`);
}

/** The default install folder: %ProgramData%\UserSessionMon. */
export function windowsInstallDir(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): string {
  return win32.join(env("ProgramData") || "C:\\ProgramData", "UserSessionMon");
}

// ---------------------------------------------------------------------------------------------
// Everything below calls into the system (Windows only).

/**
 * Creates the service, or updates its configuration when it exists, then sets the agent's
 * description, failure actions (also for a failed start), preshutdown timeout and DACL, and
 * removes any `Environment` value of its key. Returns "created" or "updated", and whether an
 * Environment value was removed.
 */
export function createOrUpdateService(
  name: string,
  binaryPath: string,
  displayName = SERVICE_DISPLAY_NAME,
): { outcome: "created" | "updated"; environmentRemoved: boolean } {
  using manager = openManager(SC_MANAGER_ALL_ACCESS);
  const { service, created } = createOrUpdate(manager, name, { binaryPath, displayName });
  try {
    setDescription(service, SERVICE_DESCRIPTION);
    setFailureActions(service, {
      actions: FAILURE_ACTIONS,
      resetPeriodSeconds: FAILURE_RESET_SECONDS,
    });
    setFailureActionsFlag(service);
    setPreshutdownTimeout(service);
    setServiceDacl(service);
  } finally {
    service.close();
  }
  const environmentRemoved = removeServiceEnvironment(name);
  return { outcome: created ? "created" : "updated", environmentRemoved };
}

/**
 * SERVICE_CONFIG_FAILURE_ACTIONS_FLAG = TRUE. Wine 10 does not implement the level (it answers
 * ERROR_INVALID_LEVEL, or a lost code): tolerated there only; real Windows must accept it.
 */
function setFailureActionsFlag(service: ScHandle): void {
  try {
    setFailureActionsOnNonCrash(service);
  } catch (error) {
    if (!runningUnderWine()) throw error;
  }
}

/** Where the start and stop of the command line report, and the clock their waits read. */
export interface ReportOptions {
  /** Where messages for the administrator go. */
  print: (line: string) => void;
  /** Default: the system clock. */
  clock?: Clock;
}

/** `--service start`: starts the service and waits for RUNNING; exit code 0 when RUNNING. */
export async function startAndReport(name: string, options: ReportOptions): Promise<number> {
  const status = await startService(name, { clock: options.clock });
  options.print(`Service ${name}: ${describeStatus(status)}`);
  return status.currentState === SERVICE_RUNNING ? 0 : 1;
}

/**
 * `--service stop`: stops the service and waits for STOPPED; exit code 0 when STOPPED or not
 * installed.
 */
export async function stopAndReport(name: string, options: ReportOptions): Promise<number> {
  const status = await stopService(name, { clock: options.clock });
  if (!status) {
    options.print(`Service ${name} is not installed`);
    return 0;
  }
  options.print(`Service ${name}: ${describeStatus(status)}`);
  return status.currentState === SERVICE_STOPPED ? 0 : 1;
}

/** What {@link installAgent} needs besides the command line's options. */
export interface InstallOptions extends ServiceActionOptions {
  /** The default install folder (used unless the imported config.ini sets install_dir). */
  installDir: string;
  /** Deno.execPath(): winagentUSM.exe (copied into the folder) or deno.exe. */
  execPath: string;
  /** The checkout's mod.ts, for development installs. */
  modulePath: string;
  /** Default: the system clock. */
  clock?: Clock;
}

/**
 * `--service install`: installs (or upgrades) the agent and the service, then starts it. The
 * imported config.ini is checked first (and, for a development install, the folders of deno.exe
 * and the checkout); then the folder is made or secured, a running service stopped and its
 * process waited for (the install stops here when either fails: nothing is replaced), the
 * executable replaced, config.ini and uninstall.bat written, the service created or updated
 * and started. Returns the exit code of the start.
 */
export async function installAgent(name: string, options: InstallOptions): Promise<number> {
  const print = options.print;
  const imported = options.configPath ? await readImport(options.configPath) : {};
  // Config flags (--url, --api-key, --install-dir...: the MSI's way in) win over the import.
  const settings = { ...imported, ...options.settings };
  const installDir = settings.install_dir ?? options.installDir;
  settings.install_dir = installDir;
  const development = isDevelopmentRuntime(options.execPath);
  if (development) {
    checkDevelopmentInstall({ denoExe: options.execPath, modulePath: options.modulePath }, print);
  }
  const handedOver = readSetupApiKey();
  if (handedOver !== undefined && options.settings?.api_key === undefined) {
    settings.api_key = handedOver;
  }
  await prepareInstallDir(installDir, print);
  await stopForReplacement(name, options);
  const inPlace = runsInPlace(options.execPath);
  if (inPlace) await removeFolderCopy(installDir, print);
  else if (!development) await replaceExecutable(options.execPath, installDir, print);
  await writeConfig(installDir, settings, options);
  if (handedOver !== undefined) {
    deleteSetupApiKey();
    print(`Moved the API key from HKLM\\${SETUP_KEY} into config.ini and deleted it there`);
  }
  if (!development && !inPlace) await writeUninstaller(installDir, print);

  const binaryPath = serviceBinaryPath({
    execPath: options.execPath,
    installDir,
    modulePath: options.modulePath,
    exePath: inPlace ? options.execPath : undefined,
  });
  const { outcome, environmentRemoved } = createOrUpdateService(name, binaryPath);
  print(`Service ${name} ${outcome}: ${binaryPath}`);
  registerEventSourceReporting(print);
  if (environmentRemoved) {
    print(`Removed the Environment value of the service's registry key (variables for it alone)`);
  }
  return await startAndReport(name, options);
}

/**
 * Stops a running service (an upgrade replaces its executable) and waits for its process to
 * exit. Throws, so that nothing is replaced, when it does not stop or its process stays.
 */
async function stopForReplacement(name: string, options: InstallOptions): Promise<void> {
  const status = await stopService(name, { clock: options.clock });
  if (!status) return;
  if (status.currentState !== SERVICE_STOPPED) {
    throw new Error(
      `Install aborted: the running service ${name} did not stop (${
        describeStatus(status)
      }); nothing was replaced. Stop it (sc stop ${name}) or restart Windows, then install again`,
    );
  }
  if (!await waitForProcessExit(status.ranAsPid, PROCESS_EXIT_TIMEOUT_MS)) {
    throw new Error(
      `Install aborted: the service stopped but its process ${status.ranAsPid} has not exited after ${
        PROCESS_EXIT_TIMEOUT_MS / 1000
      } s; nothing was replaced. End it (taskkill /pid ${status.ranAsPid} /f), then install again`,
    );
  }
}

/** Reads and checks the config.ini to import; its settings. */
async function readImport(path: string): Promise<Partial<Record<ConfigKey, string>>> {
  const text = await Deno.readTextFile(path).catch((error) => {
    throw new Error(`Cannot read the config to import ${path}: ${error.message}`);
  });
  return importedSettings(text, path, { installDir: windowsInstallDir() });
}

/** Writes the folder's config.ini, or updates it with the imported settings. */
async function writeConfig(
  installDir: string,
  settings: Partial<Record<ConfigKey, string>>,
  options: InstallOptions,
): Promise<void> {
  const configPath = win32.join(installDir, "config.ini");
  const existed = await Deno.stat(configPath).then(() => true, () => false);
  await updateConfigFile(configPath, settings, { installDir, secureFile });
  options.print(
    `${existed ? "Updated" : "Wrote"} ${configPath}` +
      (options.configPath ? ` with the settings of ${options.configPath}` : ""),
  );
}

/** What {@link removeAgent} needs besides the command line's options. */
export interface RemoveOptions extends ServiceActionOptions {
  /** The default install folder (purged unless `configPath` names another one). */
  installDir: string;
  /** Default: the system clock. */
  clock?: Clock;
}

/**
 * `--service remove`: stops and deletes the service; with `purge`, also the agent's files in
 * the install folder (the folder of `configPath` when given, else the default), and the folder
 * once empty. Returns the exit code (0).
 */
export async function removeAgent(name: string, options: RemoveOptions): Promise<number> {
  const print = options.print;
  const status = await stopService(name, { clock: options.clock });
  if (status) print(`Service ${name}: ${describeStatus(status)}`);
  else print(`Service ${name} is not installed`);
  const stopped = status === undefined || status.currentState === SERVICE_STOPPED ? 0 : 1;
  if (status && stopped === 0) await waitForProcessExit(status.ranAsPid, PROCESS_EXIT_TIMEOUT_MS);
  deleteAndReport(name, print);
  unregisterEventSourceReporting(print);
  if (stopped !== 0) print("The service did not stop in time: it is removed once it stops");
  // `--config <installDir>\config.ini` names the installed agent's folder; default the default.
  const installDir = options.configPath ? win32.dirname(options.configPath) : options.installDir;
  if (!options.purge) {
    print(`Kept config.ini and event_log.csv in ${installDir} (use --purge to delete them)`);
    return 0;
  }
  // The service is gone (or goes once it stops): the removal succeeded. A file that cannot be
  // deleted is reported, not a failure: an uninstall must not be blocked once the service is gone.
  await purgeInstallDir(installDir, { print }).catch((error) => {
    print(`Warning: could not purge ${installDir}: ${(error as Error).message}; delete it by hand`);
  });
  return 0;
}

/**
 * DeleteService; "marked for deletion" (1072: a handle is still open, e.g. services.msc) counts
 * as removed: Windows deletes the service once the last handle closes.
 */
function deleteAndReport(name: string, print: (line: string) => void): void {
  try {
    if (deleteService(name)) print(`Service ${name} removed`);
  } catch (error) {
    if (!(error instanceof Win32Error) || error.code !== ERROR_SERVICE_MARKED_FOR_DELETE) {
      throw error;
    }
    print(
      `Service ${name} is already marked for deletion: Windows removes it once every program ` +
        "holding it open (services.msc, Event Viewer) is closed",
    );
  }
}
