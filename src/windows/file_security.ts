/**
 * File security for the install folder and the files in it: a protected DACL that grants full
 * control to SYSTEM and the Administrators only (a folder under C:\ProgramData otherwise inherits
 * an ACL that lets ordinary users create files in it: DLL planting, binary replacement).
 *
 * @module
 */
import {
  advapi32,
  DACL_SECURITY_INFORMATION,
  PROTECTED_DACL_SECURITY_INFORMATION,
  SDDL_REVISION_1,
  SE_FILE_OBJECT,
} from "../../ffi/advapi32.ts";
import { checkStatus, unwrap } from "../../ffi/error.ts";
import {
  FILE_ATTRIBUTE_REPARSE_POINT,
  INVALID_FILE_ATTRIBUTES,
  kernel32,
} from "../../ffi/kernel32.ts";
import { readWide, wide } from "../../ffi/wide.ts";

/**
 * The install folder's DACL: protected (P: nothing inherited from the parent), full access (FA)
 * for SYSTEM (SY) and the Administrators (BA), inherited by files and subfolders (OICI).
 */
export const PROTECTED_SDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

/** SECURITY_INFORMATION for setting a DACL that does not inherit from the parent. */
export const PROTECTED_DACL_INFO =
  (DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION) >>> 0;

/** One ACE of an SDDL string. */
export interface SddlAce {
  type: string;
  flags: string;
  rights: string;
  trustee: string;
}

/** The DACL part of an SDDL string: its flags (e.g. "P", "PAI") and its ACEs. */
export function parseDacl(sddl: string): { flags: string; aces: SddlAce[] } {
  const match = /D:([A-Z]*)((?:\([^)]*\))*)/.exec(sddl);
  if (!match) throw new SyntaxError(`Invalid SDDL: no DACL in "${sddl}"`);
  const aces = [...match[2].matchAll(/\(([^)]*)\)/g)].map(([, body]) => {
    const [type, flags, rights, , , trustee] = body.split(";");
    return { type, flags, rights, trustee };
  });
  return { flags: match[1], aces };
}

/**
 * True when `sddl`'s DACL is protected and grants access only to SYSTEM and the
 * Administrators (by alias or SID).
 */
export function isRestrictedDacl(sddl: string): boolean {
  const { flags, aces } = parseDacl(sddl);
  const allowed = new Set(["SY", "BA", "S-1-5-18", "S-1-5-32-544"]);
  return flags.includes("P") && aces.length > 0 &&
    aces.every((ace) => ace.type !== "A" || allowed.has(ace.trustee));
}

/** Runs `use` with the security descriptor of `sddl`, freed afterwards. */
function withDescriptor<T>(sddl: string, use: (descriptor: Deno.PointerObject) => T): T {
  const out = new BigUint64Array(1);
  unwrap(
    "ConvertStringSecurityDescriptorToSecurityDescriptorW",
    advapi32().ConvertStringSecurityDescriptorToSecurityDescriptorW(
      wide(sddl),
      SDDL_REVISION_1,
      out,
      null,
    ),
  );
  const descriptor = Deno.UnsafePointer.create(out[0])!;
  try {
    return use(descriptor);
  } finally {
    kernel32().LocalFree(descriptor);
  }
}

/**
 * Sets `sddl`'s DACL on a file or folder with SetNamedSecurityInfoW and
 * PROTECTED_DACL_SECURITY_INFORMATION (children of a folder get the inheritable ACEs).
 */
export function applyDacl(path: string, sddl: string = PROTECTED_SDDL): void {
  withDescriptor(sddl, (descriptor) => {
    const present = new Int32Array(1);
    const dacl = new BigUint64Array(1);
    const defaulted = new Int32Array(1);
    unwrap(
      "GetSecurityDescriptorDacl",
      advapi32().GetSecurityDescriptorDacl(descriptor, present, dacl, defaulted),
    );
    checkStatus(
      `SetNamedSecurityInfoW(${path})`,
      advapi32().SetNamedSecurityInfoW(
        wide(path),
        SE_FILE_OBJECT,
        PROTECTED_DACL_INFO,
        null,
        null,
        Deno.UnsafePointer.create(dacl[0]),
        null,
      ),
    );
  });
}

/** Sets `sddl`'s DACL with SetFileSecurityW (the older call; no propagation to children). */
export function applyFileSecurity(path: string, sddl: string = PROTECTED_SDDL): void {
  withDescriptor(sddl, (descriptor) => {
    unwrap(
      `SetFileSecurityW(${path})`,
      advapi32().SetFileSecurityW(wide(path), PROTECTED_DACL_INFO, descriptor),
    );
  });
}

/** The DACL of a file or folder as SDDL (GetNamedSecurityInfoW). */
export function readDacl(path: string): string {
  const dacl = new BigUint64Array(1);
  const descriptorOut = new BigUint64Array(1);
  checkStatus(
    `GetNamedSecurityInfoW(${path})`,
    advapi32().GetNamedSecurityInfoW(
      wide(path),
      SE_FILE_OBJECT,
      DACL_SECURITY_INFORMATION,
      null,
      null,
      dacl,
      null,
      descriptorOut,
    ),
  );
  const descriptor = Deno.UnsafePointer.create(descriptorOut[0]);
  try {
    const text = new BigUint64Array(1);
    unwrap(
      "ConvertSecurityDescriptorToStringSecurityDescriptorW",
      advapi32().ConvertSecurityDescriptorToStringSecurityDescriptorW(
        descriptor,
        SDDL_REVISION_1,
        DACL_SECURITY_INFORMATION,
        text,
        null,
      ),
    );
    const pointer = Deno.UnsafePointer.create(text[0]);
    try {
      return readWide(pointer);
    } finally {
      kernel32().LocalFree(pointer);
    }
  } finally {
    kernel32().LocalFree(descriptor);
  }
}

/** True when `path` exists and is a reparse point (junction or symbolic link). */
export function isReparsePoint(path: string): boolean {
  const attributes = kernel32().GetFileAttributesW(wide(path));
  if (attributes === INVALID_FILE_ATTRIBUTES) return false;
  if ((attributes & FILE_ATTRIBUTE_REPARSE_POINT) !== 0) return true;
  try {
    // Wine 10 reports its symbolic links without FILE_ATTRIBUTE_REPARSE_POINT.
    return Deno.lstatSync(path).isSymlink;
  } catch {
    return false;
  }
}

/** `Platform.secureDirectory` on Windows: the protected DACL; refuses a junction or link. */
export function secureDirectory(path: string): Promise<void> {
  try {
    if (isReparsePoint(path)) {
      throw new Error(
        `Refusing to secure ${path}: it is a junction or symbolic link: remove it and use a real folder`,
      );
    }
    applyDacl(path);
    // Also on the folder itself through SetFileSecurityW: Wine 10 ignores SetNamedSecurityInfoW
    // on folders (see the README); on Windows this sets the same DACL again.
    applyFileSecurity(path);
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** `Platform.secureFile` on Windows: the protected DACL on one file. */
export function secureFile(path: string): Promise<void> {
  try {
    applyDacl(path);
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error);
  }
}
