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
} from "../../ffi/advapi32.ts";
import type { ScAction } from "../../ffi/structs.ts";
import type { ServiceActionOptions } from "../platform.ts";
import type { Clock } from "../clock.ts";
import { type ConfigKey, importedSettings, updateConfigFile } from "../config.ts";
import { AGENT_PERMISSIONS } from "../permissions.ts";
import { isReparsePoint, secureDirectory, secureFile } from "./file_security.ts";
import {
  createOrUpdate,
  deleteService,
  describeStatus,
  openManager,
  setDescription,
  setFailureActions,
  startService,
  stopService,
} from "./scm.ts";
import { SERVICE_DESCRIPTION, SERVICE_DISPLAY_NAME } from "./service_status.ts";

/** The agent's executable name in the install folder. */
export const EXE_NAME = "winagentUSM.exe";
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
/** The files of the agent in its install folder, removed by `remove --purge`. */
export const AGENT_FILE_PATTERN =
  /^(config\.ini|status\.json|sessions\.json|agent\.lock|winagentUSM\.exe|event_log\..*|error\.log.*|session_monitor\.log.*|\.(config\.ini|sessions\.json)\..*\.tmp)$/i;

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
 * description and failure actions. Returns "created" or "updated".
 */
export function createOrUpdateService(
  name: string,
  binaryPath: string,
  displayName = SERVICE_DISPLAY_NAME,
): "created" | "updated" {
  using manager = openManager(SC_MANAGER_ALL_ACCESS);
  const { service, created } = createOrUpdate(manager, name, { binaryPath, displayName });
  try {
    setDescription(service, SERVICE_DESCRIPTION);
    setFailureActions(service, {
      actions: FAILURE_ACTIONS,
      resetPeriodSeconds: FAILURE_RESET_SECONDS,
    });
  } finally {
    service.close();
  }
  return created ? "created" : "updated";
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
 * imported config.ini is checked first; then the folder is made and secured, a running service
 * stopped, the executable copied, config.ini written, the service created or updated and
 * started. Returns the exit code of the start.
 */
export async function installAgent(name: string, options: InstallOptions): Promise<number> {
  const print = options.print;
  const settings = options.configPath ? await readImport(options.configPath) : {};
  const installDir = settings.install_dir ?? options.installDir;
  settings.install_dir = installDir;
  await prepareInstallDir(installDir, print);

  // Stop a running service first (an upgrade replaces its executable).
  await stopService(name, { clock: options.clock });
  if (!isDevelopmentRuntime(options.execPath)) {
    await copyExecutable(options.execPath, installDir, print);
  }
  await writeConfig(installDir, settings, options);

  const binaryPath = serviceBinaryPath({
    execPath: options.execPath,
    installDir,
    modulePath: options.modulePath,
  });
  const outcome = createOrUpdateService(name, binaryPath);
  print(`Service ${name} ${outcome}: ${binaryPath}`);
  return await startAndReport(name, options);
}

/** Reads and checks the config.ini to import; its settings. */
async function readImport(path: string): Promise<Partial<Record<ConfigKey, string>>> {
  const text = await Deno.readTextFile(path).catch((error) => {
    throw new Error(`Cannot read the config to import ${path}: ${error.message}`);
  });
  return importedSettings(text, path, { installDir: windowsInstallDir() });
}

/** The folder: never through a junction or link; its protected DACL before any file in it. */
async function prepareInstallDir(
  installDir: string,
  print: (line: string) => void,
): Promise<void> {
  if (isReparsePoint(installDir)) {
    throw new Error(
      `Refusing to install into ${installDir}: it is a junction or symbolic link: remove it or choose another install_dir`,
    );
  }
  await Deno.mkdir(installDir, { recursive: true });
  await secureDirectory(installDir);
  print(`Install folder ${installDir}: restricted to SYSTEM and Administrators`);
}

/** Copies the running executable into the folder (unless it runs from there) and secures it. */
async function copyExecutable(
  execPath: string,
  installDir: string,
  print: (line: string) => void,
): Promise<void> {
  const target = win32.join(installDir, EXE_NAME);
  if (win32.resolve(execPath).toLowerCase() === win32.resolve(target).toLowerCase()) return;
  await Deno.copyFile(execPath, target);
  await secureFile(target);
  print(`Copied ${execPath} to ${target}`);
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
  const stopped = await stopAndReport(name, options);
  if (deleteService(name)) print(`Service ${name} removed`);
  if (stopped !== 0) print("The service did not stop in time: it is removed once it stops");
  // `--config <installDir>\config.ini` names the installed agent's folder; default the default.
  const installDir = options.configPath ? win32.dirname(options.configPath) : options.installDir;
  if (!options.purge) {
    print(`Kept config.ini and event_log.csv in ${installDir} (use --purge to delete them)`);
    return 0;
  }
  await purgeInstallDir(installDir, print);
  return 0;
}

/** Deletes the agent's files in `installDir` (never through a link), and the folder once empty. */
async function purgeInstallDir(installDir: string, print: (line: string) => void): Promise<void> {
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
}
