/**
 * The files of an install: the secured install folder, the executable replaced through a
 * temporary name, uninstall.bat, and `remove --purge`. Windows only below {@link UNINSTALL_BAT}.
 *
 * Replacing the executable: the copy goes to a temporary name in the install folder (it gets
 * the folder's owner and DACL), then MoveFileExW(MOVEFILE_REPLACE_EXISTING | WRITE_THROUGH) puts
 * it in place in one step: a failed copy never leaves half an executable, and
 * `Deno.copyFile` over an existing file (which would keep that file's descriptor) is never used.
 *
 * Removing: a program cannot delete its own running image. When `remove --purge` runs from the
 * installed winagentUSM.exe, the file is renamed out of the way (a running image may be renamed)
 * and scheduled for deletion at the next restart (MOVEFILE_DELAY_UNTIL_REBOOT, with the folder
 * after it); run from uninstall.bat, the batch file deletes it once the program has exited. The
 * output says which.
 *
 * @module
 */
import { win32 } from "node:path";
import { unwrap } from "../../../ffi/error.ts";
import {
  kernel32,
  MOVEFILE_DELAY_UNTIL_REBOOT,
  MOVEFILE_REPLACE_EXISTING,
  MOVEFILE_WRITE_THROUGH,
} from "../../../ffi/kernel32.ts";
import { wide } from "../../../ffi/wide.ts";
import { isReparsePoint, secureDirectory, secureFile } from "../security/file_security.ts";
import { secureParents } from "../security/install_parents.ts";

/** The agent's executable name in the install folder. */
export const EXE_NAME = "winagentUSM.exe";
/** The uninstaller the server's package README promises in the install folder. */
export const UNINSTALL_BAT_NAME = "uninstall.bat";
/** Set by uninstall.bat for the removal it runs: the batch file deletes the executable itself. */
export const FROM_UNINSTALL_BAT_ENV = "USM_FROM_UNINSTALL_BAT";

/** The files of the agent in its install folder, removed by `remove --purge`. */
export const AGENT_FILE_PATTERN =
  /^(config\.ini|status\.json|sessions\.json|agent\.lock|winagentUSM\.exe|uninstall\.bat|event_log\..*|error\.log.*|session_monitor\.log.*|\.(config\.ini|status\.json|sessions\.json)\..*\.tmp|winagentUSM\.exe\..*\.tmp)$/i;

/**
 * uninstall.bat: removes the service and the agent's files, then deletes the executable (which
 * cannot delete itself while it runs), itself and the folder once empty. CRLF line ends.
 */
export const UNINSTALL_BAT = [
  "@echo off",
  "rem Removes the User Session Monitor agent: the service, config.ini, event_log.csv, the logs.",
  "rem Run it from an elevated Command Prompt (Run as administrator).",
  "setlocal",
  `set "${FROM_UNINSTALL_BAT_ENV}=1"`,
  `"%~dp0${EXE_NAME}" --service remove --purge --config "%~dp0config.ini"`,
  "if errorlevel 1 exit /b %errorlevel%",
  `del /f /q "%~dp0${EXE_NAME}" 2>nul`,
  "echo Deleted %~dp0" + EXE_NAME + " and uninstall.bat",
  '(goto) 2>nul & del /f /q "%~f0" & rmdir "%~dp0" 2>nul',
  "",
].join("\r\n");

/** The temporary name a new executable is copied to before it replaces the old one. */
export function temporaryExeName(installDir: string, pid = Deno.pid): string {
  return win32.join(installDir, `${EXE_NAME}.${pid}.tmp`);
}

// ---------------------------------------------------------------------------------------------
// Everything below calls into the system (Windows only).

/**
 * The install folder: its parents checked, a missing one made with a protected descriptor
 * (install_parents.ts: an unsafe parent is refused), then the folder itself created with its
 * final descriptor, or an existing one checked and secured through one handle
 * (file_security.ts). What happened to an untrusted folder is printed.
 */
export async function prepareInstallDir(
  installDir: string,
  print: (line: string) => void,
): Promise<void> {
  secureParents(installDir, print);
  await secureDirectory(installDir, { report: print });
  print(
    `Install folder ${installDir}: owner Administrators, restricted to SYSTEM and Administrators`,
  );
}

/**
 * Puts a copy of `execPath` in the folder under {@link EXE_NAME}: copied to a temporary name,
 * secured, then moved over the old one with MOVEFILE_REPLACE_EXISTING. Nothing is copied when
 * the program already runs from there.
 */
export async function replaceExecutable(
  execPath: string,
  installDir: string,
  print: (line: string) => void,
): Promise<void> {
  const target = win32.join(installDir, EXE_NAME);
  if (win32.resolve(execPath).toLowerCase() === win32.resolve(target).toLowerCase()) return;
  const temporary = temporaryExeName(installDir);
  await Deno.remove(temporary).catch(() => {});
  try {
    await Deno.copyFile(execPath, temporary);
    await secureFile(temporary, { report: print });
    unwrap(
      `MoveFileExW(${temporary}, ${target})`,
      kernel32().MoveFileExW(
        wide(temporary),
        wide(target),
        MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH,
      ),
    );
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw new Error(
      `Cannot replace ${target}: ${
        (error as Error).message
      }: is another copy of the agent running from it?`,
      { cause: error },
    );
  }
  print(`Copied ${execPath} to ${target}`);
}

/**
 * Deletes the folder's copy of the exe and its uninstall.bat (an earlier install's, when the
 * service now runs the exe where the MSI put it): one copy of the exe, and no uninstall.bat that
 * would call a missing exe.
 */
export async function removeFolderCopy(
  installDir: string,
  print: (line: string) => void,
): Promise<void> {
  for (const name of [EXE_NAME, UNINSTALL_BAT_NAME]) {
    const path = win32.join(installDir, name);
    try {
      await Deno.remove(path);
      print(`Deleted ${path}: the service runs the exe where it is installed`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}

/** Writes uninstall.bat into the folder (secured like every file of the agent). */
export async function writeUninstaller(
  installDir: string,
  print: (line: string) => void,
): Promise<void> {
  const path = win32.join(installDir, UNINSTALL_BAT_NAME);
  const temporary = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temporary, UNINSTALL_BAT);
  await secureFile(temporary, { report: print });
  unwrap(
    `MoveFileExW(${temporary}, ${path})`,
    kernel32().MoveFileExW(wide(temporary), wide(path), MOVEFILE_REPLACE_EXISTING),
  );
}

/** True when `path` is this process's own executable. */
function isOwnImage(path: string, execPath: string): boolean {
  return win32.resolve(path).toLowerCase() === win32.resolve(execPath).toLowerCase();
}

function fromUninstallBat(): boolean {
  try {
    return Deno.env.get(FROM_UNINSTALL_BAT_ENV) === "1";
  } catch {
    return false;
  }
}

/**
 * Deletes the agent's files in `installDir` (never through a link), and the folder once empty.
 * The running executable (remove --purge from the installed agent) is left to uninstall.bat
 * when it runs the removal, else deleted at the next restart.
 */
export async function purgeInstallDir(
  installDir: string,
  options: { print: (line: string) => void; execPath?: string },
): Promise<void> {
  const { print } = options;
  const execPath = options.execPath ?? Deno.execPath();
  if (isReparsePoint(installDir)) {
    throw new Error(`Refusing to purge ${installDir}: it is a junction or symbolic link`);
  }
  const viaBat = fromUninstallBat();
  let removed = 0;
  const kept: string[] = [];
  let running: string | undefined;
  try {
    for await (const entry of Deno.readDir(installDir)) {
      const path = win32.join(installDir, entry.name);
      if (!entry.isFile || !AGENT_FILE_PATTERN.test(entry.name)) {
        kept.push(entry.name);
      } else if (isOwnImage(path, execPath)) {
        running = path;
      } else if (viaBat && entry.name.toLowerCase() === UNINSTALL_BAT_NAME) {
        // uninstall.bat deletes itself when it ends
      } else {
        await Deno.remove(path);
        removed++;
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      print(`Nothing to purge: ${installDir} does not exist`);
      return;
    }
    throw error;
  }
  print(
    `Purged ${removed} file(s) from ${installDir}` +
      (kept.length > 0 ? `; kept what the agent did not create: ${kept.join(", ")}` : ""),
  );
  if (running && viaBat) {
    print(
      `${running} is running this removal: uninstall.bat deletes it, and the folder, once it exits`,
    );
    return;
  }
  if (running) {
    // A running image can be renamed, not deleted: out of the way under a temporary name (so
    // an install before the restart is not deleted with it), then deleted at the restart.
    const doomed = `${running}.${Deno.pid}.delete.tmp`;
    unwrap(
      `MoveFileExW(${running}, ${doomed})`,
      kernel32().MoveFileExW(wide(running), wide(doomed), 0),
    );
    scheduleDeleteAtReboot(doomed);
    if (kept.length === 0) scheduleDeleteAtReboot(installDir);
    print(
      `${running} is running this removal and cannot delete itself: renamed to ${
        win32.basename(doomed)
      }; Windows deletes it` + (kept.length === 0 ? " and the folder" : "") +
        " at the next restart (uninstall.bat removes everything at once)",
    );
    return;
  }
  if (kept.length === 0) await Deno.remove(installDir).catch(() => {});
}

/** MoveFileExW(path, NULL, MOVEFILE_DELAY_UNTIL_REBOOT): deleted when Windows restarts. */
function scheduleDeleteAtReboot(path: string): void {
  unwrap(
    `MoveFileExW(${path}, NULL, MOVEFILE_DELAY_UNTIL_REBOOT)`,
    kernel32().MoveFileExW(wide(path), null, MOVEFILE_DELAY_UNTIL_REBOOT),
  );
}
