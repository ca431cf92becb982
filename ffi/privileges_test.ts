import assert from "node:assert/strict";
import {
  decodeLuid,
  decodeTokenPrivileges,
  encodeTokenPrivileges,
  SE_PRIVILEGE_ENABLED,
  tokenPrivilegesSize,
} from "./privileges.ts";

Deno.test("TOKEN_PRIVILEGES with one privilege is 16 bytes: count, LUID low, high, attributes", () => {
  assert.equal(tokenPrivilegesSize(1), 16);
  assert.equal(tokenPrivilegesSize(3), 40);
  const bytes = encodeTokenPrivileges([
    { luid: 0x0000_0001_0000_0012n, attributes: SE_PRIVILEGE_ENABLED },
  ]);
  assert.equal(bytes.byteLength, 16);
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint32(0, true), 1, "PrivilegeCount");
  assert.equal(dv.getUint32(4, true), 0x12, "Luid.LowPart");
  assert.equal(dv.getInt32(8, true), 1, "Luid.HighPart");
  assert.equal(dv.getUint32(12, true), 2, "SE_PRIVILEGE_ENABLED");
});

Deno.test("TOKEN_PRIVILEGES round-trips several privileges (the previous state restored)", () => {
  // SeTakeOwnership 9, SeBackup 17, SeRestore 18 (winnt.h's well-known LUIDs).
  const states = [
    { luid: 9n, attributes: SE_PRIVILEGE_ENABLED },
    { luid: 17n, attributes: 0 },
    { luid: 0xffff_ffff_8000_0001n, attributes: SE_PRIVILEGE_ENABLED },
  ];
  const bytes = encodeTokenPrivileges(states);
  assert.equal(bytes.byteLength, 40);
  assert.deepEqual(decodeTokenPrivileges(bytes), states);
  assert.deepEqual(decodeTokenPrivileges(encodeTokenPrivileges([])), []);
  assert.throws(() => decodeTokenPrivileges(bytes.subarray(0, 30)), RangeError);
  assert.throws(() => decodeTokenPrivileges(new Uint8Array(2)), RangeError);
});

Deno.test("a LUID is read from LookupPrivilegeValueW's 8 bytes, LowPart first", () => {
  const bytes = new Uint8Array([18, 0, 0, 0, 2, 0, 0, 0]);
  assert.equal(decodeLuid(bytes), 0x2_0000_0012n);
  assert.throws(() => decodeLuid(new Uint8Array(4)), RangeError);
});
