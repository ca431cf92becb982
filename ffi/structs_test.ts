import assert from "node:assert/strict";
import {
  decodeFailureActions,
  decodeScActions,
  decodeServiceStatus,
  decodeServiceStatusProcess,
  decodeSessionInfos,
  decodeSessionNotification,
  encodeFailureActions,
  encodeScActions,
  encodeServiceDescription,
  encodeServiceStatus,
  encodeServiceTable,
  encodeSessionInfos,
  encodeSessionNotification,
  readAddress,
  readDword,
  SERVICE_DESCRIPTION_SIZE,
  SERVICE_FAILURE_ACTIONS_SIZE,
  SERVICE_STATUS_PROCESS_SIZE,
  SERVICE_STATUS_SIZE,
  SERVICE_TABLE_ENTRY_SIZE,
  WTS_SESSION_INFO_SIZE,
  WTSSESSION_NOTIFICATION_SIZE,
} from "./structs.ts";

Deno.test("struct sizes match the x64 Windows SDK", () => {
  assert.equal(SERVICE_STATUS_SIZE, 28);
  assert.equal(SERVICE_STATUS_PROCESS_SIZE, 36);
  assert.equal(WTSSESSION_NOTIFICATION_SIZE, 8);
  assert.equal(SERVICE_TABLE_ENTRY_SIZE, 16);
  assert.equal(SERVICE_FAILURE_ACTIONS_SIZE, 40);
  assert.equal(SERVICE_DESCRIPTION_SIZE, 8);
  assert.equal(WTS_SESSION_INFO_SIZE, 24);
});

Deno.test("SERVICE_STATUS encodes seven little-endian DWORDs and round-trips", () => {
  const status = {
    serviceType: 0x10,
    currentState: 4,
    controlsAccepted: 0x85,
    win32ExitCode: 1066,
    serviceSpecificExitCode: 0xfffffffe,
    checkPoint: 3,
    waitHint: 30_000,
  };
  const bytes = encodeServiceStatus(status);
  assert.equal(bytes.byteLength, 28);
  assert.deepEqual([...bytes.subarray(0, 8)], [0x10, 0, 0, 0, 4, 0, 0, 0]);
  assert.deepEqual([...bytes.subarray(24, 28)], [0x30, 0x75, 0, 0]);
  assert.deepEqual(decodeServiceStatus(bytes), status);
  assert.deepEqual(decodeServiceStatus(bytes.buffer), status);
});

Deno.test("codecs reject a buffer smaller than the struct", () => {
  assert.throws(() => decodeServiceStatus(new Uint8Array(27)), RangeError);
  assert.throws(() => decodeServiceStatusProcess(new Uint8Array(28)), RangeError);
  assert.throws(() => decodeSessionNotification(new Uint8Array(7)), RangeError);
  assert.throws(() => decodeFailureActions(new Uint8Array(32)), RangeError);
  assert.throws(() => decodeSessionInfos(new Uint8Array(47), 2), /2 WTS_SESSION_INFOW/);
  assert.throws(() => decodeScActions(new Uint8Array(15), 2), RangeError);
});

Deno.test("SERVICE_STATUS_PROCESS adds process id and flags after SERVICE_STATUS", () => {
  const bytes = new Uint8Array(36);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(4, 2, true);
  dv.setUint32(28, 4242, true);
  dv.setUint32(32, 1, true);
  const status = decodeServiceStatusProcess(bytes);
  assert.equal(status.currentState, 2);
  assert.equal(status.processId, 4242);
  assert.equal(status.serviceFlags, 1);
});

Deno.test("WTSSESSION_NOTIFICATION carries cbSize 8 and the session id", () => {
  const bytes = encodeSessionNotification(3);
  assert.deepEqual([...bytes], [8, 0, 0, 0, 3, 0, 0, 0]);
  assert.deepEqual(decodeSessionNotification(bytes), { size: 8, sessionId: 3 });
});

Deno.test("SERVICE_TABLE_ENTRYW array ends with a NULL entry", () => {
  const table = encodeServiceTable([[0x1122334455667788n, 0x99aabbccddeeff00n]]);
  assert.equal(table.byteLength, 32);
  assert.equal(readAddress(table, 0), 0x1122334455667788n);
  assert.equal(readAddress(table, 8), 0x99aabbccddeeff00n);
  assert.equal(readAddress(table, 16), 0n);
  assert.equal(readAddress(table, 24), 0n);
});

Deno.test("SC_ACTION array and SERVICE_FAILURE_ACTIONSW round-trip with x64 padding", () => {
  const actions = [{ type: 1, delayMs: 10_000 }, { type: 1, delayMs: 10_000 }, {
    type: 1,
    delayMs: 60_000,
  }];
  const actionBytes = encodeScActions(actions);
  assert.equal(actionBytes.byteLength, 24);
  assert.deepEqual(decodeScActions(actionBytes, 3), actions);
  const value = {
    resetPeriodSeconds: 86_400,
    rebootMessage: 0n,
    command: 0n,
    actionCount: 3,
    actions: 0x7ff0_1234_5678n,
  };
  const bytes = encodeFailureActions(value);
  assert.equal(bytes.byteLength, 40);
  assert.equal(readDword(bytes, 0), 86_400);
  assert.equal(readDword(bytes, 24), 3);
  assert.equal(readAddress(bytes, 32), 0x7ff0_1234_5678n);
  assert.deepEqual(decodeFailureActions(bytes), value);
});

Deno.test("SERVICE_DESCRIPTIONW holds one pointer", () => {
  assert.equal(readAddress(encodeServiceDescription(0xabcdn)), 0xabcdn);
});

Deno.test("WTS_SESSION_INFOW array decodes id, station pointer and state at x64 offsets", () => {
  const infos = [
    { sessionId: 0, winStationName: 0x1000n, state: 4 },
    { sessionId: 1, winStationName: 0x2000n, state: 0 },
  ];
  const bytes = encodeSessionInfos(infos);
  assert.equal(bytes.byteLength, 48);
  assert.equal(readDword(bytes, 24), 1);
  assert.equal(readAddress(bytes, 32), 0x2000n);
  assert.equal(readDword(bytes, 40), 0);
  assert.deepEqual(decodeSessionInfos(bytes, 2), infos);
});
