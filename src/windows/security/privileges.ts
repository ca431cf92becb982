/**
 * The privileges that let an administrator (or SYSTEM) open a file or folder whose DACL denies
 * them, enabled on the process token for one synchronous piece of work and restored after it.
 *
 * Both SYSTEM and an elevated administrator hold these privileges, disabled. A handle opened
 * with FILE_FLAG_BACKUP_SEMANTICS then gets (Microsoft, "Privilege Constants"):
 * - SeBackupPrivilege: READ_CONTROL and read access, whatever the DACL says;
 * - SeRestorePrivilege: WRITE_DAC, WRITE_OWNER, DELETE and write access;
 * - SeTakeOwnershipPrivilege: WRITE_OWNER with or without backup semantics.
 * So a folder made earlier with a DACL that denies everyone can still be read, judged and given
 * the agent's descriptor (or moved aside) instead of failing the install.
 *
 * @module
 */
import { advapi32, TOKEN_QUERY } from "../../../ffi/advapi32.ts";
import { unwrap } from "../../../ffi/error.ts";
import { kernel32 } from "../../../ffi/kernel32.ts";
import {
  decodeLuid,
  encodeTokenPrivileges,
  privilegeApi,
  SE_PRIVILEGE_ENABLED,
  TOKEN_ADJUST_PRIVILEGES,
  tokenPrivilegesSize,
} from "../../../ffi/privileges.ts";
import { wide } from "../../../ffi/wide.ts";

/** The privileges enabled while the install folder and its files are opened and secured. */
export const OWNERSHIP_PRIVILEGES = [
  "SeBackupPrivilege",
  "SeRestorePrivilege",
  "SeTakeOwnershipPrivilege",
] as const;

/** The TOKEN_PRIVILEGES that enables each privilege of `luids`. */
export function enableRequest(luids: readonly bigint[]): Uint8Array<ArrayBuffer> {
  return encodeTokenPrivileges(luids.map((luid) => ({ luid, attributes: SE_PRIVILEGE_ENABLED })));
}

/**
 * Runs `use` with {@link OWNERSHIP_PRIVILEGES} enabled on the process token, then puts back
 * the state they had. Best effort: a privilege the token lacks stays off (AdjustTokenPrivileges
 * enables the others), and when the token cannot be adjusted at all `use` runs as it is, so the
 * open that needs the privilege fails with its own error.
 */
export function withOwnershipPrivileges<T>(use: () => T): T {
  const restore = enablePrivileges(OWNERSHIP_PRIVILEGES);
  try {
    return use();
  } finally {
    restore();
  }
}

function enablePrivileges(names: readonly string[]): () => void {
  let token: Deno.PointerValue = null;
  try {
    const out = new BigUint64Array(1);
    unwrap(
      "OpenProcessToken",
      advapi32().OpenProcessToken(
        kernel32().GetCurrentProcess(),
        TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY,
        out,
      ),
    );
    token = Deno.UnsafePointer.create(out[0]);
    const luids = names.map((name) => {
      const luid = new Uint8Array(8);
      unwrap(
        `LookupPrivilegeValueW(${name})`,
        privilegeApi().LookupPrivilegeValueW(null, wide(name), luid),
      );
      return decodeLuid(luid);
    });
    const previous = new Uint8Array(tokenPrivilegesSize(names.length));
    const length = new Uint32Array(1);
    unwrap(
      "AdjustTokenPrivileges",
      privilegeApi().AdjustTokenPrivileges(
        token,
        0,
        enableRequest(luids),
        previous.byteLength,
        previous,
        length,
      ),
    );
    const held = token;
    return () => {
      // PreviousState lists only the privileges this call changed: put those back.
      privilegeApi().AdjustTokenPrivileges(held, 0, previous, 0, null, null);
      kernel32().CloseHandle(held);
    };
  } catch {
    if (token !== null) kernel32().CloseHandle(token);
    return () => {};
  }
}
