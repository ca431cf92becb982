/**
 * Hand-written DataView codecs for the Win32 structs the agent passes to or reads from the
 * system, with the x64 layouts (8-byte pointers, natural alignment). Each codec checks the size
 * of the buffer it is given. Pointers are carried as `bigint` addresses so the codecs run (and are
 * tested) without any library loaded.
 *
 * @module
 */

/** sizeof(SERVICE_STATUS): seven DWORDs. */
export const SERVICE_STATUS_SIZE = 28;
/** sizeof(SERVICE_STATUS_PROCESS): SERVICE_STATUS plus dwProcessId and dwServiceFlags. */
export const SERVICE_STATUS_PROCESS_SIZE = 36;
/** sizeof(WTSSESSION_NOTIFICATION): cbSize and dwSessionId. */
export const WTSSESSION_NOTIFICATION_SIZE = 8;
/** sizeof(SERVICE_TABLE_ENTRYW) on x64: lpServiceName and lpServiceProc. */
export const SERVICE_TABLE_ENTRY_SIZE = 16;
/** sizeof(SC_ACTION): Type and Delay. */
export const SC_ACTION_SIZE = 8;
/** sizeof(SERVICE_FAILURE_ACTIONSW) on x64, padding included. */
export const SERVICE_FAILURE_ACTIONS_SIZE = 40;
/** sizeof(SERVICE_DESCRIPTIONW) on x64: one LPWSTR. */
export const SERVICE_DESCRIPTION_SIZE = 8;
/** sizeof(WTS_SESSION_INFOW) on x64, padding included. */
export const WTS_SESSION_INFO_SIZE = 24;

/** SERVICE_STATUS: what a service reports with SetServiceStatus. */
export interface ServiceStatus {
  serviceType: number;
  currentState: number;
  controlsAccepted: number;
  win32ExitCode: number;
  serviceSpecificExitCode: number;
  checkPoint: number;
  waitHint: number;
}

/** SERVICE_STATUS_PROCESS: what QueryServiceStatusEx(SC_STATUS_PROCESS_INFO) returns. */
export interface ServiceStatusProcess extends ServiceStatus {
  processId: number;
  serviceFlags: number;
}

/** WTSSESSION_NOTIFICATION: lpEventData of SERVICE_CONTROL_SESSIONCHANGE. */
export interface SessionNotification {
  size: number;
  sessionId: number;
}

/** SC_ACTION: one failure action (SC_ACTION_RESTART 1, ...) and its delay in milliseconds. */
export interface ScAction {
  type: number;
  delayMs: number;
}

/** SERVICE_FAILURE_ACTIONSW, with the addresses of its strings and of its SC_ACTION array. */
export interface FailureActions {
  resetPeriodSeconds: number;
  rebootMessage: bigint;
  command: bigint;
  actionCount: number;
  actions: bigint;
}

/** WTS_SESSION_INFOW, with the address of its window station name. */
export interface SessionInfo {
  sessionId: number;
  winStationName: bigint;
  state: number;
}

function view(buffer: ArrayBufferLike | ArrayBufferView, size: number, what: string): DataView {
  const dv = ArrayBuffer.isView(buffer)
    ? new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    : new DataView(buffer);
  if (dv.byteLength < size) {
    throw new RangeError(`Buffer too small for ${what}: ${dv.byteLength} bytes, needs ${size}`);
  }
  return dv;
}

const STATUS_FIELDS = [
  "serviceType",
  "currentState",
  "controlsAccepted",
  "win32ExitCode",
  "serviceSpecificExitCode",
  "checkPoint",
  "waitHint",
] as const;

/** Encodes a SERVICE_STATUS (28 bytes). */
export function encodeServiceStatus(status: ServiceStatus): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(SERVICE_STATUS_SIZE);
  const dv = view(bytes, SERVICE_STATUS_SIZE, "SERVICE_STATUS");
  STATUS_FIELDS.forEach((field, i) => dv.setUint32(i * 4, status[field] >>> 0, true));
  return bytes;
}

/** Decodes a SERVICE_STATUS (28 bytes). */
export function decodeServiceStatus(buffer: ArrayBufferLike | ArrayBufferView): ServiceStatus {
  const dv = view(buffer, SERVICE_STATUS_SIZE, "SERVICE_STATUS");
  const status = {} as ServiceStatus;
  STATUS_FIELDS.forEach((field, i) => status[field] = dv.getUint32(i * 4, true));
  return status;
}

/** Decodes a SERVICE_STATUS_PROCESS (36 bytes). */
export function decodeServiceStatusProcess(
  buffer: ArrayBufferLike | ArrayBufferView,
): ServiceStatusProcess {
  const dv = view(buffer, SERVICE_STATUS_PROCESS_SIZE, "SERVICE_STATUS_PROCESS");
  return {
    ...decodeServiceStatus(buffer),
    processId: dv.getUint32(28, true),
    serviceFlags: dv.getUint32(32, true),
  };
}

/** Encodes a WTSSESSION_NOTIFICATION (8 bytes; cbSize is filled in). */
export function encodeSessionNotification(sessionId: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(WTSSESSION_NOTIFICATION_SIZE);
  const dv = view(bytes, WTSSESSION_NOTIFICATION_SIZE, "WTSSESSION_NOTIFICATION");
  dv.setUint32(0, WTSSESSION_NOTIFICATION_SIZE, true);
  dv.setUint32(4, sessionId >>> 0, true);
  return bytes;
}

/** Decodes a WTSSESSION_NOTIFICATION (8 bytes). */
export function decodeSessionNotification(
  buffer: ArrayBufferLike | ArrayBufferView,
): SessionNotification {
  const dv = view(buffer, WTSSESSION_NOTIFICATION_SIZE, "WTSSESSION_NOTIFICATION");
  return { size: dv.getUint32(0, true), sessionId: dv.getUint32(4, true) };
}

/**
 * Encodes a SERVICE_TABLE_ENTRYW array for StartServiceCtrlDispatcherW: one entry per
 * `[lpServiceName, lpServiceProc]` address pair, then the all-NULL entry that ends the table.
 */
export function encodeServiceTable(
  entries: readonly (readonly [name: bigint, proc: bigint])[],
): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array((entries.length + 1) * SERVICE_TABLE_ENTRY_SIZE);
  const dv = new DataView(bytes.buffer);
  entries.forEach(([name, proc], i) => {
    dv.setBigUint64(i * SERVICE_TABLE_ENTRY_SIZE, name, true);
    dv.setBigUint64(i * SERVICE_TABLE_ENTRY_SIZE + 8, proc, true);
  });
  return bytes;
}

/** Encodes an array of SC_ACTION (8 bytes each). */
export function encodeScActions(actions: readonly ScAction[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(actions.length * SC_ACTION_SIZE);
  const dv = new DataView(bytes.buffer);
  actions.forEach((action, i) => {
    dv.setUint32(i * SC_ACTION_SIZE, action.type >>> 0, true);
    dv.setUint32(i * SC_ACTION_SIZE + 4, action.delayMs >>> 0, true);
  });
  return bytes;
}

/** Decodes an array of `count` SC_ACTION. */
export function decodeScActions(
  buffer: ArrayBufferLike | ArrayBufferView,
  count: number,
): ScAction[] {
  const dv = view(buffer, count * SC_ACTION_SIZE, `${count} SC_ACTION`);
  return Array.from({ length: count }, (_, i) => ({
    type: dv.getUint32(i * SC_ACTION_SIZE, true),
    delayMs: dv.getUint32(i * SC_ACTION_SIZE + 4, true),
  }));
}

/** Encodes a SERVICE_FAILURE_ACTIONSW (40 bytes on x64). */
export function encodeFailureActions(value: FailureActions): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(SERVICE_FAILURE_ACTIONS_SIZE);
  const dv = view(bytes, SERVICE_FAILURE_ACTIONS_SIZE, "SERVICE_FAILURE_ACTIONSW");
  dv.setUint32(0, value.resetPeriodSeconds >>> 0, true);
  dv.setBigUint64(8, value.rebootMessage, true);
  dv.setBigUint64(16, value.command, true);
  dv.setUint32(24, value.actionCount >>> 0, true);
  dv.setBigUint64(32, value.actions, true);
  return bytes;
}

/** Decodes a SERVICE_FAILURE_ACTIONSW (40 bytes on x64). */
export function decodeFailureActions(buffer: ArrayBufferLike | ArrayBufferView): FailureActions {
  const dv = view(buffer, SERVICE_FAILURE_ACTIONS_SIZE, "SERVICE_FAILURE_ACTIONSW");
  return {
    resetPeriodSeconds: dv.getUint32(0, true),
    rebootMessage: dv.getBigUint64(8, true),
    command: dv.getBigUint64(16, true),
    actionCount: dv.getUint32(24, true),
    actions: dv.getBigUint64(32, true),
  };
}

/** Encodes a SERVICE_DESCRIPTIONW (8 bytes on x64) pointing at a wide string. */
export function encodeServiceDescription(description: bigint): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(SERVICE_DESCRIPTION_SIZE);
  new DataView(bytes.buffer).setBigUint64(0, description, true);
  return bytes;
}

/** Decodes `count` consecutive WTS_SESSION_INFOW (24 bytes each on x64). */
export function decodeSessionInfos(
  buffer: ArrayBufferLike | ArrayBufferView,
  count: number,
): SessionInfo[] {
  const dv = view(buffer, count * WTS_SESSION_INFO_SIZE, `${count} WTS_SESSION_INFOW`);
  return Array.from({ length: count }, (_, i) => {
    const at = i * WTS_SESSION_INFO_SIZE;
    return {
      sessionId: dv.getUint32(at, true),
      winStationName: dv.getBigUint64(at + 8, true),
      state: dv.getUint32(at + 16, true),
    };
  });
}

/** Encodes `infos` as consecutive WTS_SESSION_INFOW (for tests of the decoder). */
export function encodeSessionInfos(infos: readonly SessionInfo[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(infos.length * WTS_SESSION_INFO_SIZE);
  const dv = new DataView(bytes.buffer);
  infos.forEach((info, i) => {
    const at = i * WTS_SESSION_INFO_SIZE;
    dv.setUint32(at, info.sessionId >>> 0, true);
    dv.setBigUint64(at + 8, info.winStationName, true);
    dv.setUint32(at + 16, info.state >>> 0, true);
  });
  return bytes;
}

/** Reads a pointer-sized (x64) address out of an out-parameter buffer. */
export function readAddress(buffer: ArrayBufferView, byteOffset = 0): bigint {
  return new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength).getBigUint64(
    byteOffset,
    true,
  );
}

/** Reads a DWORD out of an out-parameter buffer. */
export function readDword(buffer: ArrayBufferView, byteOffset = 0): number {
  return new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength).getUint32(
    byteOffset,
    true,
  );
}

// SECURITY_ATTRIBUTES, SERVICE_PRESHUTDOWN_INFO, SERVICE_FAILURE_ACTIONS_FLAG.

/** sizeof(SECURITY_ATTRIBUTES) on x64: nLength, padding, the descriptor, bInheritHandle, padding. */
export const SECURITY_ATTRIBUTES_SIZE = 24;
/** sizeof(SERVICE_PRESHUTDOWN_INFO): dwPreshutdownTimeout. */
export const SERVICE_PRESHUTDOWN_INFO_SIZE = 4;
/** sizeof(SERVICE_FAILURE_ACTIONS_FLAG): fFailureActionsOnNonCrashFailures. */
export const SERVICE_FAILURE_ACTIONS_FLAG_SIZE = 4;

/** Encodes a SECURITY_ATTRIBUTES for `descriptor` (an address), handles not inherited. */
export function encodeSecurityAttributes(descriptor: bigint): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(SECURITY_ATTRIBUTES_SIZE);
  const dv = view(bytes, SECURITY_ATTRIBUTES_SIZE, "SECURITY_ATTRIBUTES");
  dv.setUint32(0, SECURITY_ATTRIBUTES_SIZE, true);
  dv.setBigUint64(8, descriptor, true);
  dv.setInt32(16, 0, true);
  return bytes;
}

/** Decodes a SECURITY_ATTRIBUTES (for tests of the encoder). */
export function decodeSecurityAttributes(
  buffer: ArrayBufferLike | ArrayBufferView,
): { length: number; descriptor: bigint; inheritHandle: boolean } {
  const dv = view(buffer, SECURITY_ATTRIBUTES_SIZE, "SECURITY_ATTRIBUTES");
  return {
    length: dv.getUint32(0, true),
    descriptor: dv.getBigUint64(8, true),
    inheritHandle: dv.getInt32(16, true) !== 0,
  };
}

/** Encodes a one-DWORD config2 struct (SERVICE_PRESHUTDOWN_INFO, SERVICE_FAILURE_ACTIONS_FLAG). */
export function encodeDwordInfo(value: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(4);
  view(bytes, 4, "DWORD").setUint32(0, value >>> 0, true);
  return bytes;
}
