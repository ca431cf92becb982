import assert from "node:assert/strict";
import { SERVICE_EXIT_CODES, serviceExitCode, StartError } from "../../exit_codes.ts";
import { serviceStatusFor } from "./service_status.ts";

Deno.test("service statuses: session changes and preshutdown accepted from START_PENDING, stop only when RUNNING", () => {
  assert.deepEqual(serviceStatusFor("start_pending", { checkPoint: 2 }), {
    serviceType: 0x10,
    currentState: 2,
    controlsAccepted: 0x80 | 0x100, // SESSIONCHANGE | PRESHUTDOWN, not STOP
    win32ExitCode: 0,
    serviceSpecificExitCode: 0,
    checkPoint: 2,
    waitHint: 30_000,
  });
  const running = serviceStatusFor("running");
  assert.equal(running.currentState, 4);
  assert.equal(running.controlsAccepted, 0x1 | 0x4 | 0x80 | 0x100);
  assert.equal(serviceStatusFor("stop_pending").controlsAccepted, 0);
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
    startTimedOut: 11,
    stopTimedOut: 12,
  });
});
