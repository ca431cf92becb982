/**
 * wtsapi32.dll: sessions and their users. Opened lazily by {@link wtsapi32}.
 *
 * @module
 */

import { openSystemLibrary } from "./system32.ts";

/** The wtsapi32.dll symbols the agent uses. */
export const WTSAPI32_SYMBOLS = {
  WTSQuerySessionInformationW: {
    parameters: [
      "pointer", // HANDLE hServer: WTS_CURRENT_SERVER_HANDLE (NULL)
      "u32", // DWORD SessionId
      "u32", // WTS_INFO_CLASS WTSInfoClass: WTSUserName 5, WTSDomainName 7
      "buffer", // LPWSTR* ppBuffer: out, free with WTSFreeMemory
      "buffer", // DWORD* pBytesReturned: out, bytes including the NUL
    ],
    result: "i32", // BOOL
  },
  WTSEnumerateSessionsW: {
    parameters: [
      "pointer", // HANDLE hServer: WTS_CURRENT_SERVER_HANDLE (NULL)
      "u32", // DWORD Reserved: 0
      "u32", // DWORD Version: 1
      "buffer", // PWTS_SESSION_INFOW* ppSessionInfo: out, free with WTSFreeMemory
      "buffer", // DWORD* pCount: out
    ],
    result: "i32", // BOOL
  },
  WTSFreeMemory: {
    parameters: ["pointer"], // PVOID pMemory
    result: "void",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** WTS_INFO_CLASS values. */
export const WTSUserName = 5;
export const WTSDomainName = 7;

let library: Deno.DynamicLibrary<typeof WTSAPI32_SYMBOLS> | undefined;

/** wtsapi32.dll's symbols, opening the library on first use. */
export function wtsapi32(): Deno.DynamicLibrary<typeof WTSAPI32_SYMBOLS>["symbols"] {
  library ??= openSystemLibrary("wtsapi32.dll", WTSAPI32_SYMBOLS);
  return library.symbols;
}

// Sessions present at start: WTSQuerySessionInformationW's session records.

/** WTS_INFO_CLASS WTSSessionInfo: a WTSINFOW (ffi/wts_structs.ts). */
export const WTSSessionInfo = 24;
/** WTS_INFO_CLASS WTSSessionInfoEx: a WTSINFOEXW, level 1 (Windows 7 / 2008 R2 and later). */
export const WTSSessionInfoEx = 25;
