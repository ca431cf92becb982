import assert from "node:assert/strict";
import { StartError } from "../agent.ts";
import {
  decodeTestControl,
  encodeTestControl,
  RELOAD_CONTROL,
  SERVICE_EXIT_CODES,
  serviceExitCode,
  serviceStatusFor,
  TEST_CONTROL_FIRST,
  TEST_CONTROL_LAST,
} from "./service_status.ts";

Deno.test("test controls cover the four session changes for sessions 1..31 and nothing else", () => {
  assert.equal(decodeTestControl(RELOAD_CONTROL), undefined);
  assert.equal(decodeTestControl(TEST_CONTROL_FIRST - 1), undefined);
  assert.equal(decodeTestControl(TEST_CONTROL_LAST + 1), undefined);
  assert.deepEqual(decodeTestControl(129), { wtsCode: 5, session: 1 });
  assert.deepEqual(decodeTestControl(132), { wtsCode: 8, session: 1 });
  assert.deepEqual(decodeTestControl(133), { wtsCode: 5, session: 2 });
  assert.deepEqual(decodeTestControl(252), { wtsCode: 8, session: 31 });
  for (let wts = 5; wts <= 8; wts++) {
    for (let session = 1; session <= 31; session++) {
      const control = encodeTestControl(wts, session);
      assert.ok(control >= 129 && control <= 252);
      assert.deepEqual(decodeTestControl(control), { wtsCode: wts, session });
    }
  }
  assert.throws(() => encodeTestControl(4, 1), RangeError);
  assert.throws(() => encodeTestControl(5, 0), RangeError);
  assert.throws(() => encodeTestControl(5, 32), RangeError);
});

Deno.test("service statuses: pending states hint, RUNNING accepts stop/shutdown/sessionchange", () => {
  assert.deepEqual(serviceStatusFor("start_pending", { checkPoint: 2 }), {
    serviceType: 0x10,
    currentState: 2,
    controlsAccepted: 0,
    win32ExitCode: 0,
    serviceSpecificExitCode: 0,
    checkPoint: 2,
    waitHint: 30_000,
  });
  const running = serviceStatusFor("running");
  assert.equal(running.currentState, 4);
  assert.equal(running.controlsAccepted, 0x1 | 0x4 | 0x80);
  assert.equal(running.waitHint, 0);
  assert.equal(serviceStatusFor("stop_pending").currentState, 3);
  assert.deepEqual(serviceStatusFor("stopped"), {
    ...serviceStatusFor("stopped", { exitCode: 0 }),
  });
  const failed = serviceStatusFor("stopped", { exitCode: 3 });
  assert.equal(failed.currentState, 1);
  assert.equal(failed.win32ExitCode, 1066);
  assert.equal(failed.serviceSpecificExitCode, 3);
});

Deno.test("start failures map to the documented service-specific exit codes", async (t) => {
  const table: [string, unknown, number][] = [
    ["already running", new StartError("another agent", 1), 1],
    ["install folder", new StartError("cannot create", 2), 2],
    ["journal", new StartError("Cannot open the journal C:\\x\\event_log.csv", 3), 3],
    ["untagged journal-looking error", new Error("event_log.csv: disk full"), 10],
    ["anything else", new TypeError("boom"), 10],
    ["not an error", "text", 10],
  ];
  for (const [name, error, code] of table) {
    await t.step(name, () => assert.equal(serviceExitCode(error), code));
  }
  assert.deepEqual(SERVICE_EXIT_CODES, {
    alreadyRunning: 1,
    installDirNotWritable: 2,
    journalUnavailable: 3,
    unexpected: 10,
  });
});
