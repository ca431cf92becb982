/**
 * kernel32.dll: events, waits, the computer name, GetLastError/FormatMessageW, handles, file
 * attributes and LocalFree. Opened lazily by {@link kernel32}, never at import time.
 *
 * @module
 */

import { openSystemLibrary } from "./system32.ts";

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
  // Folders with their descriptor, files by handle, replacement, processes.
  CreateDirectoryW: {
    parameters: [
      "buffer", // LPCWSTR lpPathName
      "buffer", // LPSECURITY_ATTRIBUTES lpSecurityAttributes: the folder's descriptor, or NULL
    ],
    result: "i32", // BOOL: fails with ERROR_ALREADY_EXISTS when the name is taken
  },
  CreateFileW: {
    parameters: [
      "buffer", // LPCWSTR lpFileName
      "u32", // DWORD dwDesiredAccess: READ_CONTROL | WRITE_DAC | WRITE_OWNER
      "u32", // DWORD dwShareMode: FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
      "buffer", // LPSECURITY_ATTRIBUTES lpSecurityAttributes: NULL
      "u32", // DWORD dwCreationDisposition: OPEN_EXISTING
      "u32", // DWORD dwFlagsAndAttributes: FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS
      "pointer", // HANDLE hTemplateFile: NULL
    ],
    result: "pointer", // HANDLE: INVALID_HANDLE_VALUE (-1, not NULL) on failure
  },
  GetFileInformationByHandle: {
    parameters: [
      "pointer", // HANDLE hFile
      "buffer", // LPBY_HANDLE_FILE_INFORMATION: out, 52 bytes; dwFileAttributes first
    ],
    result: "i32", // BOOL
  },
  MoveFileExW: {
    parameters: [
      "buffer", // LPCWSTR lpExistingFileName
      "buffer", // LPCWSTR lpNewFileName: NULL with MOVEFILE_DELAY_UNTIL_REBOOT deletes at reboot
      "u32", // DWORD dwFlags: MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH, ...
    ],
    result: "i32", // BOOL
  },
  OpenProcess: {
    parameters: [
      "u32", // DWORD dwDesiredAccess: SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION
      "i32", // BOOL bInheritHandle
      "u32", // DWORD dwProcessId
    ],
    result: "pointer", // HANDLE, NULL on failure (e.g. the process has exited)
  },
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

// File handles, moves, processes.
/** CreateFileW access, sharing, disposition and flags. */
export const FILE_SHARE_READ = 0x1;
export const FILE_SHARE_WRITE = 0x2;
export const FILE_SHARE_DELETE = 0x4;
export const OPEN_EXISTING = 3;
export const FILE_FLAG_OPEN_REPARSE_POINT = 0x0020_0000;
export const FILE_FLAG_BACKUP_SEMANTICS = 0x0200_0000;
/** INVALID_HANDLE_VALUE as an address: (HANDLE)-1. */
export const INVALID_HANDLE_VALUE = 0xffff_ffff_ffff_ffffn;
/** sizeof(BY_HANDLE_FILE_INFORMATION). */
export const BY_HANDLE_FILE_INFORMATION_SIZE = 52;
/** MoveFileExW flags. */
export const MOVEFILE_REPLACE_EXISTING = 0x1;
export const MOVEFILE_DELAY_UNTIL_REBOOT = 0x4;
export const MOVEFILE_WRITE_THROUGH = 0x8;
/** OpenProcess access. */
export const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;

let library: Deno.DynamicLibrary<typeof KERNEL32_SYMBOLS> | undefined;

/** kernel32.dll's symbols, opening the library on first use. */
export function kernel32(): Deno.DynamicLibrary<typeof KERNEL32_SYMBOLS>["symbols"] {
  library ??= openSystemLibrary("kernel32.dll", KERNEL32_SYMBOLS);
  return library.symbols;
}
