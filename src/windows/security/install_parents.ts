/**
 * The folders above the install folder. Whoever may rename or delete one of them (or a folder
 * in it) can move the install folder away and put a folder of their own in its place, which the
 * service, running as SYSTEM, would then run from. So before the install folder is made, every
 * folder from the drive's root down to its parent is checked (descriptor.ts's `parentProblem`:
 * no junction, a trusted owner, no delete, delete-child, WRITE_DAC or WRITE_OWNER right for
 * anyone but SYSTEM, the Administrators and TrustedInstaller), and a missing one is created with
 * {@link PARENT_DIR_SDDL} in the same call. `C:\ProgramData` and `C:\Program Files` pass (Users
 * may create subfolders in the first, not rename or delete an administrator's); a folder an
 * administrator made at a drive's root inherits "Authenticated Users: modify" and fails. Windows
 * only.
 *
 * @module
 */
import { win32 } from "node:path";
import { parentProblem } from "./descriptor.ts";
import { folderChain } from "./dev_install.ts";
import { createDirectoryWithDescriptor, FileHandle } from "./file_security.ts";
import { runningUnderWine } from "./wine.ts";

/**
 * A parent folder the install creates: owner Administrators; full control for SYSTEM and the
 * Administrators, read and execute (0x1200a9) for Users; protected, so nothing is inherited
 * from a drive root where Authenticated Users may modify what is created.
 */
export const PARENT_DIR_SDDL = "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)";

/**
 * Makes sure every folder above `installDir` exists and lets no one but SYSTEM, the
 * Administrators and TrustedInstaller rename or replace it: a missing one is created with
 * {@link PARENT_DIR_SDDL} (and said so), an unsafe one refused with the fix. Root first, so
 * each folder is judged as it is found (one someone else created meanwhile included).
 */
export function secureParents(installDir: string, print: (line: string) => void): void {
  const chain = folderChain(win32.dirname(win32.resolve(installDir))).reverse();
  const securityStored = !runningUnderWine();
  for (const folder of chain) {
    if (createDirectoryWithDescriptor(folder, PARENT_DIR_SDDL)) {
      print(`Created ${folder}: owner Administrators, only administrators may change it`);
    }
    let problem: string | undefined;
    try {
      using handle = FileHandle.open(folder, { readOnly: true });
      problem = handle
        ? parentProblem({
          reparsePoint: handle.isReparsePoint(),
          sddl: handle.descriptor(),
          securityStored,
        })
        : "it was deleted while the install ran";
    } catch (error) {
      problem = `its permissions cannot be read (${(error as Error).message})`;
    }
    if (problem !== undefined) throw new Error(parentRefusal(installDir, folder, problem));
  }
}

/** The refusal for an unsafe parent `folder` of `installDir`: what is wrong, and the fix. */
export function parentRefusal(installDir: string, folder: string, problem: string): string {
  return `Refusing to install in ${installDir}: its parent folder ${folder} is not safe: ${problem}, so a user who is not an administrator could put a folder of their own in place of ${installDir}, which the service runs from as SYSTEM. Choose an install_dir under C:\\ProgramData or C:\\Program Files, or let only administrators change ${folder}: icacls "${folder}" /setowner *S-1-5-32-544 and icacls "${folder}" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F *S-1-5-32-545:(OI)(CI)RX`;
}
