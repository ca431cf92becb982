/**
 * Whether this process may manage services: token elevation, and the service manager's own
 * answer where the token cannot say (Wine). Windows only.
 *
 * @module
 */
import {
  advapi32,
  SC_MANAGER_ALL_ACCESS,
  TOKEN_QUERY,
  TokenElevation,
} from "../../../ffi/advapi32.ts";
import { unwrap } from "../../../ffi/error.ts";
import { kernel32 } from "../../../ffi/kernel32.ts";

/** What a non-elevated administrator is told. */
export const ELEVATION_REQUIRED =
  "This needs administrator rights: run this from an elevated Command Prompt (Run as administrator)";

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
    // Opened here rather than through mgr/scm.ts, which sits above this folder.
    const manager = unwrap(
      "OpenSCManagerW",
      advapi32().OpenSCManagerW(null, null, SC_MANAGER_ALL_ACCESS),
    );
    advapi32().CloseServiceHandle(manager);
  } catch (error) {
    throw new Error(ELEVATION_REQUIRED, { cause: error });
  }
}

/**
 * True when this process may administer the machine's services and the install folder: its
 * token is elevated (SYSTEM's is), or the service manager grants it full access (Wine, whose
 * tokens never report elevation).
 */
export function mayAdminister(): boolean {
  try {
    requireElevation();
    return true;
  } catch {
    return false;
  }
}
