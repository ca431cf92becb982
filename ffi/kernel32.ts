/**
 * kernel32.dll: events, waits, the computer name, GetLastError/FormatMessageW, handles, file
 * attributes and LocalFree. Opened lazily by {@link kernel32}, never at import time.
 *
 * @module
 */

/** The kernel32.dll symbols the agent uses. */
export const KERNEL32_SYMBOLS = {
  OpenEventW: {
    parameters: [
      "u32", // DWORD dwDesiredAccess: e.g. SYNCHRONIZE
      "i32", // BOOL bInheritHandle
      "buffer", // LPCWSTR lpName: e.g. Global\TermSrvReadyEvent
    ],
    result: "pointer", // HANDLE, NULL on failure
  },
  CreateEventW: {
    parameters: [
      "pointer", // LPSECURITY_ATTRIBUTES lpEventAttributes: NULL for the default
      "i32", // BOOL bManualReset
      "i32", // BOOL bInitialState
      "buffer", // LPCWSTR lpName: NULL for an unnamed event
    ],
    result: "pointer", // HANDLE, NULL on failure
  },
  SetEvent: {
    parameters: ["pointer"], // HANDLE hEvent
    result: "i32", // BOOL
  },
  WaitForSingleObject: {
    parameters: [
      "pointer", // HANDLE hHandle
      "u32", // DWORD dwMilliseconds: INFINITE 0xFFFFFFFF
    ],
    result: "u32", // DWORD: WAIT_OBJECT_0 0, WAIT_TIMEOUT 0x102, WAIT_FAILED 0xFFFFFFFF
  },
  /** WaitForSingleObject on a worker thread: waits of seconds stay off the event loop. */
  WaitForSingleObjectAsync: {
    name: "WaitForSingleObject",
    parameters: [
      "pointer", // HANDLE hHandle
      "u32", // DWORD dwMilliseconds
    ],
    result: "u32", // DWORD wait result (GetLastError is unreadable from the worker thread)
    nonblocking: true,
  },
  GetComputerNameExW: {
    parameters: [
      "u32", // COMPUTER_NAME_FORMAT NameType: ComputerNameNetBIOS 0, ComputerNameDnsHostname 1
      "buffer", // LPWSTR lpBuffer: receives the name
      "buffer", // LPDWORD nSize: in the buffer's size, out the length, in WCHARs
    ],
    result: "i32", // BOOL
  },
  GetLastError: { parameters: [], result: "u32" }, // DWORD: the calling thread's last error
  FormatMessageW: {
    parameters: [
      "u32", // DWORD dwFlags: FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS
      "pointer", // LPCVOID lpSource: NULL for system messages
      "u32", // DWORD dwMessageId: the error code
      "u32", // DWORD dwLanguageId: 0 for the default
      "buffer", // LPWSTR lpBuffer: receives the message
      "u32", // DWORD nSize: lpBuffer's size in WCHARs
      "pointer", // va_list* Arguments: NULL
    ],
    result: "u32", // DWORD: WCHARs written, 0 on failure
  },
  CloseHandle: {
    parameters: ["pointer"], // HANDLE hObject
    result: "i32", // BOOL
  },
  GetFileAttributesW: {
    parameters: ["buffer"], // LPCWSTR lpFileName
    result: "u32", // DWORD attributes, INVALID_FILE_ATTRIBUTES 0xFFFFFFFF on failure
  },
  LocalFree: {
    parameters: ["pointer"], // HLOCAL hMem: memory the system allocated for us
    result: "pointer", // HLOCAL: NULL on success
  },
  GetCurrentProcess: { parameters: [], result: "pointer" }, // HANDLE: the pseudo-handle -1
} as const satisfies Deno.ForeignLibraryInterface;

/** SYNCHRONIZE access right (waitable handles). */
export const SYNCHRONIZE = 0x0010_0000;
/** EVENT_MODIFY_STATE access right (SetEvent). */
export const EVENT_MODIFY_STATE = 0x0002;
/** WaitForSingleObject results. */
export const WAIT_OBJECT_0 = 0;
export const WAIT_TIMEOUT = 0x102;
export const WAIT_FAILED = 0xffff_ffff;
/** GetComputerNameExW name types. */
export const ComputerNameNetBIOS = 0;
export const ComputerNameDnsHostname = 1;
/** GetFileAttributesW results. */
export const INVALID_FILE_ATTRIBUTES = 0xffff_ffff;
export const FILE_ATTRIBUTE_DIRECTORY = 0x10;
export const FILE_ATTRIBUTE_REPARSE_POINT = 0x400;
/** FormatMessageW flags. */
export const FORMAT_MESSAGE_IGNORE_INSERTS = 0x200;
export const FORMAT_MESSAGE_FROM_SYSTEM = 0x1000;

let library: Deno.DynamicLibrary<typeof KERNEL32_SYMBOLS> | undefined;

/** kernel32.dll's symbols, opening the library on first use. */
export function kernel32(): Deno.DynamicLibrary<typeof KERNEL32_SYMBOLS>["symbols"] {
  library ??= Deno.dlopen("kernel32.dll", KERNEL32_SYMBOLS);
  return library.symbols;
}
