/**
 * advapi32.dll's token privilege calls (LookupPrivilegeValueW, AdjustTokenPrivileges) and the
 * TOKEN_PRIVILEGES codec. A symbol block of its own, opened by {@link privilegeApi}, like the
 * event log block of advapi32.ts (which is at its size limit).
 *
 * TOKEN_PRIVILEGES (winnt.h, packed to 4 bytes): DWORD PrivilegeCount, then PrivilegeCount
 * LUID_AND_ATTRIBUTES of 12 bytes each: LUID { DWORD LowPart; LONG HighPart }, DWORD Attributes.
 * With one privilege it is 16 bytes (sizeof(TOKEN_PRIVILEGES)).
 *
 * @module
 */

import { openSystemLibrary } from "./system32.ts";

/** The advapi32.dll symbols of token privileges. */
export const PRIVILEGE_SYMBOLS = {
  LookupPrivilegeValueW: {
    parameters: [
      "buffer", // LPCWSTR lpSystemName: NULL for this machine
      "buffer", // LPCWSTR lpName: e.g. "SeRestorePrivilege"
      "buffer", // PLUID lpLuid: out, 8 bytes
    ],
    result: "i32", // BOOL
  },
  AdjustTokenPrivileges: {
    parameters: [
      "pointer", // HANDLE TokenHandle: with TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY
      "i32", // BOOL DisableAllPrivileges: FALSE
      "buffer", // PTOKEN_PRIVILEGES NewState
      "u32", // DWORD BufferLength: size of PreviousState, 0 when it is NULL
      "buffer", // PTOKEN_PRIVILEGES PreviousState: out, the changed privileges' former state
      "buffer", // PDWORD ReturnLength: out, may be NULL when PreviousState is
    ],
    // BOOL: TRUE also when some privileges are not held (GetLastError ERROR_NOT_ALL_ASSIGNED)
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** Token access for adjusting its privileges and reading their previous state. */
export const TOKEN_ADJUST_PRIVILEGES = 0x20;
/** LUID_AND_ATTRIBUTES.Attributes: the privilege is enabled. */
export const SE_PRIVILEGE_ENABLED = 0x2;
/** AdjustTokenPrivileges' GetLastError when a privilege is not in the token. */
export const ERROR_NOT_ALL_ASSIGNED = 1300;
/** Size of a LUID_AND_ATTRIBUTES. */
export const LUID_AND_ATTRIBUTES_SIZE = 12;

/** One entry of TOKEN_PRIVILEGES: a privilege's LUID (as a 64-bit value) and its attributes. */
export interface PrivilegeState {
  luid: bigint;
  attributes: number;
}

/** sizeof(TOKEN_PRIVILEGES) for `count` privileges: the count, then 12 bytes each. */
export function tokenPrivilegesSize(count: number): number {
  return 4 + LUID_AND_ATTRIBUTES_SIZE * count;
}

/** Encodes TOKEN_PRIVILEGES: LowPart is the LUID's low 32 bits, HighPart the high 32 bits. */
export function encodeTokenPrivileges(
  privileges: readonly PrivilegeState[],
): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(tokenPrivilegesSize(privileges.length));
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, privileges.length, true);
  privileges.forEach(({ luid, attributes }, index) => {
    const at = 4 + index * LUID_AND_ATTRIBUTES_SIZE;
    dv.setUint32(at, Number(luid & 0xffff_ffffn), true);
    dv.setInt32(at + 4, Number(BigInt.asIntN(32, luid >> 32n)), true);
    dv.setUint32(at + 8, attributes >>> 0, true);
  });
  return bytes;
}

/** Decodes TOKEN_PRIVILEGES (AdjustTokenPrivileges' PreviousState), checking its size. */
export function decodeTokenPrivileges(buffer: ArrayBufferView): PrivilegeState[] {
  const dv = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (dv.byteLength < 4) throw new RangeError("Buffer too small for TOKEN_PRIVILEGES");
  const count = dv.getUint32(0, true);
  if (dv.byteLength < tokenPrivilegesSize(count)) {
    throw new RangeError(
      `Buffer too small for TOKEN_PRIVILEGES of ${count}: ${dv.byteLength} bytes, needs ${
        tokenPrivilegesSize(count)
      }`,
    );
  }
  return Array.from({ length: count }, (_, index) => {
    const at = 4 + index * LUID_AND_ATTRIBUTES_SIZE;
    const low = BigInt(dv.getUint32(at, true));
    const high = BigInt.asUintN(32, BigInt(dv.getInt32(at + 4, true)));
    return { luid: (high << 32n) | low, attributes: dv.getUint32(at + 8, true) };
  });
}

/** A LUID from LookupPrivilegeValueW's 8 bytes, as a 64-bit value. */
export function decodeLuid(buffer: ArrayBufferView): bigint {
  const dv = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (dv.byteLength < 8) throw new RangeError("Buffer too small for a LUID");
  return (BigInt.asUintN(32, BigInt(dv.getInt32(4, true))) << 32n) |
    BigInt(dv.getUint32(0, true));
}

let library: Deno.DynamicLibrary<typeof PRIVILEGE_SYMBOLS> | undefined;

/** advapi32.dll's privilege symbols, opening the library on first use. */
export function privilegeApi(): Deno.DynamicLibrary<typeof PRIVILEGE_SYMBOLS>["symbols"] {
  library ??= openSystemLibrary("advapi32.dll", PRIVILEGE_SYMBOLS);
  return library.symbols;
}
