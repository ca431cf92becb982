import assert from "node:assert/strict";
import {
  decodeWtsInfo,
  decodeWtsInfoEx,
  encodeWtsInfo,
  encodeWtsInfoEx,
  fileTimeToMs,
  msToFileTime,
  WTSINFO_SIZE,
  WTSINFOEX_SIZE,
  type WtsSessionDetails,
} from "./wts_structs.ts";

const DETAILS: WtsSessionDetails = {
  sessionId: 7,
  state: 4,
  flags: 0,
  winStationName: "RDP-Tcp#12",
  userName: "Jürgen",
  domainName: "CORP",
  logonTime: Date.UTC(2025, 0, 14, 8, 0, 0),
  connectTime: Date.UTC(2025, 0, 14, 9, 30, 0),
  disconnectTime: Date.UTC(2025, 0, 14, 17, 0, 0),
};

Deno.test("WTSINFOEXW and WTSINFOW have their x64 sizes", () => {
  assert.equal(WTSINFOEX_SIZE, 232);
  assert.equal(WTSINFO_SIZE, 216);
});

Deno.test("WTSINFOEXW fields sit at the offsets of WtsApi32.h", () => {
  const bytes = encodeWtsInfoEx(DETAILS);
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint32(0, true), 1, "Level");
  assert.equal(dv.getUint32(8, true), 7, "SessionId after Level and its padding");
  assert.equal(dv.getInt32(12, true), 4, "SessionState");
  assert.equal(dv.getInt32(16, true), 0, "SessionFlags");
  assert.equal(dv.getUint16(20, true), "R".charCodeAt(0), "WinStationName");
  assert.equal(dv.getUint16(8 + 78, true), "J".charCodeAt(0), "UserName after 33 WCHARs");
  assert.equal(dv.getUint16(8 + 78 + 2, true), "ü".charCodeAt(0), "UTF-16, not UTF-8");
  assert.equal(dv.getUint16(8 + 120, true), "C".charCodeAt(0), "DomainName after 21 WCHARs");
  assert.equal(dv.getBigInt64(8 + 160, true), msToFileTime(DETAILS.logonTime), "LogonTime");
  assert.deepEqual(decodeWtsInfoEx(bytes), DETAILS);
});

Deno.test("WTSINFOW round-trips and has no lock state", () => {
  const decoded = decodeWtsInfo(encodeWtsInfo(DETAILS));
  assert.deepEqual(decoded, { ...DETAILS, flags: -1 });
  const dv = new DataView(encodeWtsInfo(DETAILS).buffer);
  assert.equal(dv.getInt32(0, true), 4, "State first");
  assert.equal(dv.getUint32(4, true), 7, "SessionId second");
  assert.equal(
    dv.getBigInt64(200, true),
    msToFileTime(DETAILS.logonTime),
    "LogonTime last but one",
  );
});

Deno.test("FILETIME converts to epoch milliseconds; 0 is not set", () => {
  assert.equal(fileTimeToMs(0n), 0);
  assert.equal(fileTimeToMs(116_444_736_000_000_000n + 10_000n), 1);
  assert.equal(fileTimeToMs(msToFileTime(1_736_841_600_000)), 1_736_841_600_000);
  assert.equal(fileTimeToMs(1n), 0, "before 1970 reads as not set");
});

Deno.test("short buffers and unknown levels are refused", () => {
  assert.throws(() => decodeWtsInfoEx(new Uint8Array(100)), /too small for WTSINFOEXW/);
  assert.throws(() => decodeWtsInfo(new Uint8Array(215)), /too small for WTSINFOW/);
  const bytes = encodeWtsInfoEx(DETAILS);
  new DataView(bytes.buffer).setUint32(0, 2, true);
  assert.throws(() => decodeWtsInfoEx(bytes), /Level 2/);
  // A buffer at an odd offset still decodes (names are copied before they are read as UTF-16).
  const odd = new Uint8Array(WTSINFOEX_SIZE + 1);
  odd.set(encodeWtsInfoEx(DETAILS), 1);
  assert.deepEqual(decodeWtsInfoEx(odd.subarray(1)), DETAILS);
});
