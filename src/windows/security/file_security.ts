/**
 * File security for the install folder and the files in it, through handles: the folder is
 * created with its final descriptor in the same call (CreateDirectoryW with SECURITY_ATTRIBUTES:
 * it never exists with C:\ProgramData's inherited ACL, under which users may create files); an
 * existing folder or file is opened once, without following reparse points
 * (FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS), and its attributes, its owner and
 * its new owner and DACL all go through that one handle (GetFileInformationByHandle,
 * GetSecurityInfo, SetSecurityInfo): a junction swapped in after the check cannot redirect the
 * change. The decisions are descriptor.ts's.
 *
 * Only an elevated process (or SYSTEM) may create or secure the folder: any other is told to run
 * elevated, and creates nothing.
 *
 * @module
 */
import {
  advapi32,
  DACL_SECURITY_INFORMATION,
  OWNER_SECURITY_INFORMATION,
  PROTECTED_DACL_SECURITY_INFORMATION,
  READ_CONTROL,
  SDDL_REVISION_1,
  SE_FILE_OBJECT,
  WRITE_DAC,
  WRITE_OWNER,
} from "../../../ffi/advapi32.ts";
import { checkStatus, unwrap, Win32Error } from "../../../ffi/error.ts";
import {
  BY_HANDLE_FILE_INFORMATION_SIZE,
  FILE_ATTRIBUTE_REPARSE_POINT,
  FILE_FLAG_BACKUP_SEMANTICS,
  FILE_FLAG_OPEN_REPARSE_POINT,
  FILE_SHARE_DELETE,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
  INVALID_FILE_ATTRIBUTES,
  INVALID_HANDLE_VALUE,
  kernel32,
  MOVEFILE_WRITE_THROUGH,
  OPEN_EXISTING,
} from "../../../ffi/kernel32.ts";
import { win32 } from "node:path";
import { encodeSecurityAttributes, readDword } from "../../../ffi/structs.ts";
import { readWide, wide } from "../../../ffi/wide.ts";
import { systemClock } from "../../clock.ts";
import type { SecureOptions } from "../../platform.ts";
import {
  AGENT_FILE_SDDL,
  entryProblem,
  INSTALL_DIR_SDDL,
  ownerProblem,
  trustDecision,
} from "./descriptor.ts";
import { withOwnershipPrivileges } from "./privileges.ts";
import { ELEVATION_REQUIRED, mayAdminister } from "./elevation.ts";
import { runningUnderWine } from "./wine.ts";

export { isRestrictedDacl, parseDacl, PROTECTED_SDDL } from "./descriptor.ts";

/** SECURITY_INFORMATION for an owner and a DACL that does not inherit from the parent. */
export const OWNER_AND_PROTECTED_DACL = (OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION |
  PROTECTED_DACL_SECURITY_INFORMATION) >>> 0;
/** SECURITY_INFORMATION for a DACL that does not inherit from the parent. */
export const PROTECTED_DACL_INFO =
  (DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION) >>> 0;

export type { SecureOptions };

/** Runs `use` with the security descriptor of `sddl`, freed afterwards. */
export function withDescriptor<T>(sddl: string, use: (descriptor: Deno.PointerObject) => T): T {
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

/** A file or folder opened without following reparse points; closed by `close()`. */
export class FileHandle {
  #handle: Deno.PointerValue;
  readonly path: string;

  private constructor(path: string, handle: Deno.PointerObject) {
    this.path = path;
    this.#handle = handle;
  }

  /**
   * Opens `path` (file or folder), the reparse point itself rather than its target, for reading
   * its descriptor and, unless `readOnly`, changing it. Returns undefined when nothing is there.
   */
  static open(path: string, options: { readOnly?: boolean } = {}): FileHandle | undefined {
    const handle = kernel32().CreateFileW(
      wide(path),
      options.readOnly ? READ_CONTROL : READ_CONTROL | WRITE_DAC | WRITE_OWNER,
      FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
      null,
      OPEN_EXISTING,
      FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS,
      null,
    );
    const value = handle === null ? 0n : BigInt(Deno.UnsafePointer.value(handle));
    if (value === 0n || value === INVALID_HANDLE_VALUE) {
      const code = kernel32().GetLastError();
      // Decided by a direct look, not by the error code alone (it can read 0 after FFI).
      if (!existsByName(path)) return undefined;
      throw new Win32Error(`CreateFileW(${path})`, code);
    }
    return new FileHandle(path, handle!);
  }

  get handle(): Deno.PointerObject {
    if (this.#handle === null) throw new Error(`Handle of ${this.path} used after close`);
    return this.#handle;
  }

  /** dwFileAttributes, from GetFileInformationByHandle. */
  attributes(): number {
    const info = new Uint8Array(BY_HANDLE_FILE_INFORMATION_SIZE);
    unwrap(
      `GetFileInformationByHandle(${this.path})`,
      kernel32().GetFileInformationByHandle(this.handle, info),
    );
    return readDword(info, 0);
  }

  /** True when the handle is a reparse point (junction or symbolic link). */
  isReparsePoint(): boolean {
    return (this.attributes() & FILE_ATTRIBUTE_REPARSE_POINT) !== 0 || isSymlinkByName(this.path);
  }

  /** The owner and DACL, as SDDL ("O:BAD:P(...)"), from GetSecurityInfo. */
  descriptor(): string {
    const out = new BigUint64Array(1);
    const info = (OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION) >>> 0;
    checkStatus(
      `GetSecurityInfo(${this.path})`,
      advapi32().GetSecurityInfo(this.handle, SE_FILE_OBJECT, info, null, null, null, null, out),
    );
    const descriptor = Deno.UnsafePointer.create(out[0]);
    try {
      return descriptorText(descriptor, info);
    } finally {
      kernel32().LocalFree(descriptor);
    }
  }

  /** Sets the owner and the protected DACL of `sddl` (SetSecurityInfo). */
  apply(sddl: string): void {
    withDescriptor(sddl, (descriptor) => {
      const owner = new BigUint64Array(1);
      const ownerDefaulted = new Int32Array(1);
      unwrap(
        "GetSecurityDescriptorOwner",
        advapi32().GetSecurityDescriptorOwner(descriptor, owner, ownerDefaulted),
      );
      const present = new Int32Array(1);
      const dacl = new BigUint64Array(1);
      const defaulted = new Int32Array(1);
      unwrap(
        "GetSecurityDescriptorDacl",
        advapi32().GetSecurityDescriptorDacl(descriptor, present, dacl, defaulted),
      );
      checkStatus(
        `SetSecurityInfo(${this.path})`,
        advapi32().SetSecurityInfo(
          this.handle,
          SE_FILE_OBJECT,
          OWNER_AND_PROTECTED_DACL,
          Deno.UnsafePointer.create(owner[0]),
          null,
          Deno.UnsafePointer.create(dacl[0]),
          null,
        ),
      );
    });
  }

  close(): void {
    if (this.#handle === null) return;
    kernel32().CloseHandle(this.#handle);
    this.#handle = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A descriptor as SDDL, for the parts in `info` (owner, DACL...). */
export function descriptorText(descriptor: Deno.PointerValue, info: number): string {
  const text = new BigUint64Array(1);
  unwrap(
    "ConvertSecurityDescriptorToStringSecurityDescriptorW",
    advapi32().ConvertSecurityDescriptorToStringSecurityDescriptorW(
      descriptor,
      SDDL_REVISION_1,
      info,
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
}

function existsByName(path: string): boolean {
  return kernel32().GetFileAttributesW(wide(path)) !== INVALID_FILE_ATTRIBUTES ||
    isSymlinkByName(path);
}

/** Wine 10 reports its symbolic links without FILE_ATTRIBUTE_REPARSE_POINT: ask lstat too. */
function isSymlinkByName(path: string): boolean {
  try {
    return Deno.lstatSync(path).isSymlink;
  } catch {
    return false;
  }
}

/**
 * Creates `path` with the descriptor of `sddl` in the same call (CreateDirectoryW with
 * SECURITY_ATTRIBUTES). Returns false when something already has that name (checked directly).
 */
export function createDirectoryWithDescriptor(path: string, sddl = INSTALL_DIR_SDDL): boolean {
  return withDescriptor(sddl, (descriptor) => {
    const attributes = encodeSecurityAttributes(BigInt(Deno.UnsafePointer.value(descriptor)));
    const ok = kernel32().CreateDirectoryW(wide(path), attributes);
    if (ok !== 0) return true;
    const code = kernel32().GetLastError();
    if (existsByName(path)) return false;
    throw new Win32Error(`CreateDirectoryW(${path})`, code);
  });
}

/** The owner and DACL of a file or folder as SDDL, read through a handle (not followed). */
export function readDescriptor(path: string): string {
  using handle = FileHandle.open(path, { readOnly: true });
  if (!handle) throw new Deno.errors.NotFound(`No such file or folder: ${path}`);
  return handle.descriptor();
}

/** True when `path` exists and is a reparse point (junction or symbolic link). */
export function isReparsePoint(path: string): boolean {
  const attributes = kernel32().GetFileAttributesW(wide(path));
  if (attributes !== INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_REPARSE_POINT) !== 0) {
    return true;
  }
  return isSymlinkByName(path);
}

/** `<path>.untrusted-<UTC time>`: where an untrusted folder or file is moved aside. */
export function asideName(path: string, now = systemClock.wallNow()): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
  return `${path.replace(/\\+$/, "")}.untrusted-${stamp}`;
}

function requireAdministrator(path: string): void {
  if (!mayAdminister()) {
    throw new Error(`Cannot create or secure ${path}: ${ELEVATION_REQUIRED}`);
  }
}

/**
 * `Platform.secureDirectory` on Windows. A missing folder is created with its descriptor (owner
 * Administrators, protected DACL for SYSTEM and Administrators) in the same call. An existing
 * one is opened once without following reparse points, with the backup, restore and
 * take-ownership privileges enabled (privileges.ts: a DACL that denies everyone does not stop
 * SYSTEM or an elevated administrator): a junction or link is refused; a folder that is not
 * trusted (descriptor.ts's `trustDecision`: an owner outside SYSTEM, Administrators and
 * TrustedInstaller, ordinary users allowed to write in it, or an entry inside owned by someone
 * else or writable by ordinary users) is moved aside to `<folder>.untrusted-<time>` and the
 * agent starts afresh in a new folder (resetting its permissions would keep what others put in
 * it); otherwise the owner and DACL are set through that same handle.
 */
export function secureDirectory(path: string, options: SecureOptions = {}): Promise<void> {
  try {
    requireAdministrator(path);
    withOwnershipPrivileges(() => secureDirectoryNow(path, options));
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error);
  }
}

function secureDirectoryNow(path: string, options: SecureOptions): void {
  const securityStored = !runningUnderWine();
  for (let attempt = 0; attempt < 3; attempt++) {
    using handle = FileHandle.open(path);
    if (!handle) {
      if (options.create === false) throw new Deno.errors.NotFound(`No such folder: ${path}`);
      if (createDirectoryWithDescriptor(path)) return;
      continue; // created by someone else meanwhile: look at what is there now
    }
    const decision = trustDecision({
      reparsePoint: handle.isReparsePoint(),
      sddl: handle.descriptor(),
      securityStored,
      entries: () => untrustedEntry(path),
    });
    if (decision.action === "refuse") {
      throw new Error(
        `Refusing to secure ${path}: ${decision.reason}: remove it and use a real folder`,
      );
    }
    if (decision.action === "secure") {
      handle.apply(INSTALL_DIR_SDDL);
      return;
    }
    handle.close();
    const aside = asideName(path);
    unwrap(
      `MoveFileExW(${path}, ${aside})`,
      kernel32().MoveFileExW(wide(path), wide(aside), MOVEFILE_WRITE_THROUGH),
    );
    (options.report ?? (() => {}))(
      `${path} was not trusted: ${decision.reason}. Moved it aside to ${aside} and started afresh in a new folder (resetting its permissions would have kept whatever others put in it)`,
    );
  }
  throw new Error(
    `Cannot secure ${path}: something keeps recreating it: find out what, remove it, and try again`,
  );
}

/**
 * The first entry under `folder` (at any depth; links and junctions are judged, not followed)
 * that makes it untrusted (descriptor.ts's `entryProblem`), or one that cannot be listed or
 * read, in words; undefined when every entry is trusted.
 */
export function untrustedEntry(folder: string, relative = ""): string | undefined {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(folder)];
  } catch (error) {
    return `${relative || "it"} cannot be listed (${(error as Error).message})`;
  }
  for (const entry of entries) {
    const path = win32.join(folder, entry.name);
    const name = relative ? `${relative}\\${entry.name}` : entry.name;
    let problem: string | undefined;
    let descend = false;
    try {
      using handle = FileHandle.open(path, { readOnly: true });
      if (!handle) continue; // deleted meanwhile
      problem = entryProblem(name, handle.descriptor());
      descend = entry.isDirectory && !entry.isSymlink && !handle.isReparsePoint();
    } catch (error) {
      problem = `it holds ${name}, whose permissions cannot be read (${(error as Error).message})`;
    }
    problem ??= descend ? untrustedEntry(path, name) : undefined;
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * `Platform.secureFile` on Windows: through one handle opened without following reparse points
 * (the ownership privileges enabled, as for the folder), the file's owner becomes
 * Administrators and its DACL the protected one (an untrusted owner is replaced: the reset is
 * reported). A reparse point is refused.
 */
export function secureFile(path: string, options: SecureOptions = {}): Promise<void> {
  try {
    withOwnershipPrivileges(() => secureFileNow(path, options));
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error);
  }
}

function secureFileNow(path: string, options: SecureOptions): void {
  using handle = FileHandle.open(path);
  if (!handle) throw new Deno.errors.NotFound(`No such file: ${path}`);
  if (handle.isReparsePoint()) {
    throw new Error(`Refusing to secure ${path}: it is a junction or symbolic link: remove it`);
  }
  // Wine stores no owner: every file reads as its one user's.
  const owner = runningUnderWine() ? undefined : ownerProblem(handle.descriptor());
  handle.apply(AGENT_FILE_SDDL);
  if (owner !== undefined) {
    (options.report ?? (() => {}))(
      `${path} was not trusted: ${owner}. Took ownership (Administrators) and reset its permissions`,
    );
  }
}

/** The DACL of a file or folder as SDDL (kept for the tests that compare the DACL alone). */
export function readDacl(path: string): string {
  const sddl = readDescriptor(path);
  const index = sddl.indexOf("D:");
  return index < 0 ? sddl : sddl.slice(index);
}
