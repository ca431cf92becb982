/**
 * Where the agent's DLLs are loaded from: always `<System32>\<name>.dll`, by full path, never by
 * bare name. A bare name is looked up in the exe's own folder first, and a DLL that is not a
 * KnownDLL (wtsapi32.dll is not) could be planted there. The System32 folder comes from
 * GetSystemDirectoryW of kernel32.dll, which the loader maps from the \KnownDlls section (and
 * which is in every process already): the one library whose bare name cannot be redirected.
 *
 * @module
 */

const BOOTSTRAP = {
  GetSystemDirectoryW: {
    parameters: [
      "buffer", // LPWSTR lpBuffer: receives the path, without a trailing backslash
      "u32", // UINT uSize: the buffer's size in WCHARs
    ],
    result: "u32", // UINT: WCHARs written (without the NUL), 0 on failure
  },
} as const satisfies Deno.ForeignLibraryInterface;

let system32: string | undefined;

/** The full path of System32 (e.g. `C:\Windows\system32`), asked of the system once. */
export function systemDirectory(): string {
  if (system32 !== undefined) return system32;
  const bootstrap = Deno.dlopen("kernel32.dll", BOOTSTRAP); // KnownDLL: see the module doc
  try {
    const buffer = new Uint16Array(260);
    const length = bootstrap.symbols.GetSystemDirectoryW(buffer, buffer.length);
    if (length === 0 || length >= buffer.length) {
      throw new Error("GetSystemDirectoryW failed: the System32 folder is unknown");
    }
    system32 = systemLibraryPathFrom(String.fromCharCode(...buffer.subarray(0, length)), "");
  } finally {
    bootstrap.close();
  }
  return system32;
}

/**
 * `<dir>\<library>`: the full path of a System32 library. Refuses anything but a bare file
 * name ending in .dll, so no caller can reach outside System32.
 */
export function systemLibraryPathFrom(dir: string, library: string): string {
  if (!/^[A-Za-z]:\\/.test(dir)) {
    throw new Error(`Refusing to load libraries from ${dir}: not an absolute Windows path`);
  }
  const base = dir.replace(/\\+$/, "");
  if (library === "") return base;
  if (!/^[A-Za-z0-9_]+\.dll$/i.test(library)) {
    throw new TypeError(`Invalid library name: ${library} is not a bare .dll file name`);
  }
  return `${base}\\${library}`;
}

/** Opens a System32 library by its full path (`Deno.dlopen`). */
export function openSystemLibrary<S extends Deno.ForeignLibraryInterface>(
  library: string,
  symbols: S,
): Deno.DynamicLibrary<S> {
  return Deno.dlopen(systemLibraryPathFrom(systemDirectory(), library), symbols);
}
