/**
 * DataView codecs for the session information that WTSQuerySessionInformationW returns, x64
 * layouts (WtsApi32.h): WTSINFOEXW (WTSSessionInfoEx, 25) and WTSINFOW (WTSSessionInfo, 24).
 * Each checks the size of the buffer it is given; times are FILETIMEs (100 ns since 1601 UTC),
 * decoded to epoch milliseconds, 0 meaning "not set".
 *
 * @module
 */
import { fromWide } from "./wide.ts";

/** WINSTATIONNAME_LENGTH, USERNAME_LENGTH, DOMAIN_LENGTH (WtsApi32.h). */
const WINSTATIONNAME_LENGTH = 32;
const USERNAME_LENGTH = 20;
const DOMAIN_LENGTH = 17;

/** sizeof(WTSINFOEX_LEVEL1_W) on x64: three LONGs, three names, five LARGE_INTEGERs, six DWORDs. */
export const WTSINFOEX_LEVEL1_SIZE = 224;
/** sizeof(WTSINFOEXW) on x64: Level, padding to 8, then the level-1 union member. */
export const WTSINFOEX_SIZE = 232;
/** sizeof(WTSINFOW) on x64. */
export const WTSINFO_SIZE = 216;

/** WTSINFOEX_LEVEL1_W.SessionFlags values. */
export const WTS_SESSIONSTATE_LOCK = 0;
export const WTS_SESSIONSTATE_UNLOCK = 1;
export const WTS_SESSIONSTATE_UNKNOWN = -1;

/** What the agent reads of one session's WTSINFOEXW or WTSINFOW. */
export interface WtsSessionDetails {
  sessionId: number;
  /** WTS_CONNECTSTATE_CLASS: WTSActive 0, WTSConnected 1, WTSDisconnected 4, ... */
  state: number;
  /** SessionFlags (WTSINFOEXW only; WTSINFOW gives WTS_SESSIONSTATE_UNKNOWN). */
  flags: number;
  winStationName: string;
  userName: string;
  domainName: string;
  /** Epoch milliseconds, 0 when not set. */
  logonTime: number;
  connectTime: number;
  disconnectTime: number;
}

/** 100-ns intervals between 1601-01-01 and 1970-01-01. */
const FILETIME_EPOCH = 116_444_736_000_000_000n;

/** A FILETIME as epoch milliseconds; 0 (not set) and times before 1970 give 0. */
export function fileTimeToMs(fileTime: bigint): number {
  if (fileTime <= FILETIME_EPOCH) return 0;
  return Number((fileTime - FILETIME_EPOCH) / 10_000n);
}

/** Epoch milliseconds as a FILETIME (tests and encoders). */
export function msToFileTime(ms: number): bigint {
  return ms === 0 ? 0n : BigInt(ms) * 10_000n + FILETIME_EPOCH;
}

function dataView(bytes: Uint8Array, size: number, what: string): DataView {
  if (bytes.byteLength < size) {
    throw new RangeError(`Buffer too small for ${what}: ${bytes.byteLength} bytes, needs ${size}`);
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function wideAt(bytes: Uint8Array, offset: number, units: number): string {
  return fromWide(new Uint16Array(bytes.slice(offset, offset + units * 2).buffer));
}

/** Offsets inside WTSINFOEX_LEVEL1_W. */
const EX = {
  sessionId: 0,
  state: 4,
  flags: 8,
  winStation: 12,
  user: 12 + (WINSTATIONNAME_LENGTH + 1) * 2, // 78
  domain: 78 + (USERNAME_LENGTH + 1) * 2, // 120
  logon: 160, // 156 rounded up to the LARGE_INTEGER's alignment
  connect: 168,
  disconnect: 176,
} as const;
/** Offset of the union in WTSINFOEXW. */
const EX_DATA = 8;

/** Decodes a WTSINFOEXW; throws a RangeError for a short buffer or a Level other than 1. */
export function decodeWtsInfoEx(bytes: Uint8Array): WtsSessionDetails {
  const dv = dataView(bytes, WTSINFOEX_SIZE, "WTSINFOEXW");
  const level = dv.getUint32(0, true);
  if (level !== 1) throw new RangeError(`WTSINFOEXW has Level ${level}; only level 1 is known`);
  const b = EX_DATA;
  return {
    sessionId: dv.getUint32(b + EX.sessionId, true),
    state: dv.getInt32(b + EX.state, true),
    flags: dv.getInt32(b + EX.flags, true),
    winStationName: wideAt(bytes, b + EX.winStation, WINSTATIONNAME_LENGTH + 1),
    userName: wideAt(bytes, b + EX.user, USERNAME_LENGTH + 1),
    domainName: wideAt(bytes, b + EX.domain, DOMAIN_LENGTH + 1),
    logonTime: fileTimeToMs(dv.getBigInt64(b + EX.logon, true)),
    connectTime: fileTimeToMs(dv.getBigInt64(b + EX.connect, true)),
    disconnectTime: fileTimeToMs(dv.getBigInt64(b + EX.disconnect, true)),
  };
}

/** Encodes a WTSINFOEXW (level 1) as the system lays it out (tests, synthetic sessions). */
export function encodeWtsInfoEx(details: WtsSessionDetails): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(WTSINFOEX_SIZE);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, 1, true);
  const b = EX_DATA;
  dv.setUint32(b + EX.sessionId, details.sessionId, true);
  dv.setInt32(b + EX.state, details.state, true);
  dv.setInt32(b + EX.flags, details.flags, true);
  putWide(dv, b + EX.winStation, details.winStationName, WINSTATIONNAME_LENGTH);
  putWide(dv, b + EX.user, details.userName, USERNAME_LENGTH);
  putWide(dv, b + EX.domain, details.domainName, DOMAIN_LENGTH);
  dv.setBigInt64(b + EX.logon, msToFileTime(details.logonTime), true);
  dv.setBigInt64(b + EX.connect, msToFileTime(details.connectTime), true);
  dv.setBigInt64(b + EX.disconnect, msToFileTime(details.disconnectTime), true);
  return bytes;
}

function putWide(dv: DataView, offset: number, text: string, maxUnits: number): void {
  if (text.length > maxUnits) throw new RangeError(`${JSON.stringify(text)} is too long`);
  for (let i = 0; i < text.length; i++) dv.setUint16(offset + i * 2, text.charCodeAt(i), true);
}

/** Offsets inside WTSINFOW. */
const INFO = {
  state: 0,
  sessionId: 4,
  winStation: 32, // after eight DWORDs
  domain: 32 + WINSTATIONNAME_LENGTH * 2, // 96
  user: 96 + DOMAIN_LENGTH * 2, // 130
  connect: 176, // 172 rounded up to 8
  disconnect: 184,
  lastInput: 192,
  logon: 200,
} as const;

/** Decodes a WTSINFOW (WTSSessionInfo); its SessionFlags are unknown. */
export function decodeWtsInfo(bytes: Uint8Array): WtsSessionDetails {
  const dv = dataView(bytes, WTSINFO_SIZE, "WTSINFOW");
  return {
    sessionId: dv.getUint32(INFO.sessionId, true),
    state: dv.getInt32(INFO.state, true),
    flags: WTS_SESSIONSTATE_UNKNOWN,
    winStationName: wideAt(bytes, INFO.winStation, WINSTATIONNAME_LENGTH),
    userName: wideAt(bytes, INFO.user, USERNAME_LENGTH + 1),
    domainName: wideAt(bytes, INFO.domain, DOMAIN_LENGTH),
    logonTime: fileTimeToMs(dv.getBigInt64(INFO.logon, true)),
    connectTime: fileTimeToMs(dv.getBigInt64(INFO.connect, true)),
    disconnectTime: fileTimeToMs(dv.getBigInt64(INFO.disconnect, true)),
  };
}

/** Encodes a WTSINFOW (tests). */
export function encodeWtsInfo(details: WtsSessionDetails): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(WTSINFO_SIZE);
  const dv = new DataView(bytes.buffer);
  dv.setInt32(INFO.state, details.state, true);
  dv.setUint32(INFO.sessionId, details.sessionId, true);
  putWide(dv, INFO.winStation, details.winStationName, WINSTATIONNAME_LENGTH - 1);
  putWide(dv, INFO.domain, details.domainName, DOMAIN_LENGTH - 1);
  putWide(dv, INFO.user, details.userName, USERNAME_LENGTH);
  dv.setBigInt64(INFO.logon, msToFileTime(details.logonTime), true);
  dv.setBigInt64(INFO.connect, msToFileTime(details.connectTime), true);
  dv.setBigInt64(INFO.disconnect, msToFileTime(details.disconnectTime), true);
  return bytes;
}
