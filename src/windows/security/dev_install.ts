/**
 * The development install (`deno run mod.ts --service install`): the service then runs deno.exe
 * and the checkout's modules as SYSTEM, from wherever they are. Anyone who can write to
 * deno.exe's folder, the checkout or a folder above either can replace what SYSTEM runs. So
 * the install refuses unless every one of those folders is owned by SYSTEM, Administrators or
 * TrustedInstaller and writable by no one else; `USM_DEV_INSTALL=test-machine` overrides the
 * refusal on a test machine, and the output says plainly what that means.
 *
 * @module
 */
import { win32 } from "node:path";
import { isTrustedOwner, ordinaryWriters, parseOwner } from "./descriptor.ts";
import { readDescriptor } from "./file_security.ts";
import { runningUnderWine } from "./wine.ts";

/** The environment variable that lets a development install go ahead on a test machine. */
export const DEV_INSTALL_ENV = "USM_DEV_INSTALL";
/** Its value. */
export const DEV_INSTALL_TEST_MACHINE = "test-machine";

/** A folder, and its ancestors up to the drive root. */
export function folderChain(path: string): string[] {
  const chain: string[] = [];
  let current = win32.resolve(path);
  for (;;) {
    chain.push(current);
    const parent = win32.dirname(current);
    if (parent === current) return chain;
    current = parent;
  }
}

/**
 * Why a folder with descriptor `sddl` is unsafe to run SYSTEM's code from, or undefined when it
 * is safe: an untrusted owner (it can change the permissions) or ordinary users with a write
 * right. `ownersStored: false` (Wine) skips the owner.
 */
export function unsafeFolderReason(
  sddl: string,
  options: { ownersStored?: boolean } = {},
): string | undefined {
  const owner = parseOwner(sddl);
  if (options.ownersStored !== false && !isTrustedOwner(owner)) {
    return `it is owned by ${owner ?? "(unknown)"}`;
  }
  const writers = ordinaryWriters(sddl);
  if (writers.length > 0) return `${writers.join(", ")} may write to it`;
  return undefined;
}

/**
 * Checks the folders of a development install. Throws when one is unsafe, unless the test
 * machine override is set; always prints that the install is for test machines only.
 */
export function checkDevelopmentInstall(
  paths: { denoExe: string; modulePath: string },
  print: (line: string) => void,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): void {
  const problems: string[] = [];
  const folders = new Set([
    ...folderChain(win32.dirname(paths.denoExe)),
    ...folderChain(win32.dirname(paths.modulePath)),
  ]);
  const ownersStored = !runningUnderWine();
  for (const folder of folders) {
    let reason: string | undefined;
    try {
      reason = unsafeFolderReason(readDescriptor(folder), { ownersStored });
    } catch (error) {
      reason = `its permissions cannot be read (${(error as Error).message})`;
    }
    if (reason) problems.push(`${folder}: ${reason}`);
  }
  print(
    `Development install: the service runs ${paths.denoExe} and ${paths.modulePath} as SYSTEM. ` +
      "This is for test machines only; install winagentUSM.exe on other PCs",
  );
  if (problems.length === 0) return;
  const detail = problems.join("; ");
  if (env(DEV_INSTALL_ENV) === DEV_INSTALL_TEST_MACHINE) {
    print(
      `Warning: ${DEV_INSTALL_ENV}=${DEV_INSTALL_TEST_MACHINE}: going ahead although anyone who can write these folders becomes SYSTEM: ${detail}`,
    );
    return;
  }
  throw new Error(
    `Refusing the development install: ordinary users could replace what the service runs as SYSTEM: ${detail}. ` +
      `Put deno.exe and the checkout under a folder only administrators can write (e.g. C:\\Program Files), ` +
      `install the compiled winagentUSM.exe, or on a test machine set ${DEV_INSTALL_ENV}=${DEV_INSTALL_TEST_MACHINE}`,
  );
}
