import assert from "node:assert/strict";
import { SERVICE_RUNNING, SERVICE_STOPPED } from "../../../ffi/advapi32.ts";
import type { ServiceStatusProcess } from "../../../ffi/structs.ts";
import { describeStatus } from "./scm.ts";

function status(fields: Partial<ServiceStatusProcess>): ServiceStatusProcess {
  return {
    serviceType: 0x10,
    currentState: SERVICE_STOPPED,
    controlsAccepted: 0,
    win32ExitCode: 0,
    serviceSpecificExitCode: 0,
    checkPoint: 0,
    waitHint: 0,
    processId: 0,
    serviceFlags: 0,
    ...fields,
  };
}

Deno.test("a status in words names the state, the process and why it stopped", async (t) => {
  const table: [Partial<ServiceStatusProcess>, string][] = [
    [{ currentState: SERVICE_RUNNING, processId: 4242 }, "RUNNING (pid 4242)"],
    [{}, "STOPPED"],
    [
      { win32ExitCode: 1066, serviceSpecificExitCode: 3 },
      "STOPPED with service exit code 3",
    ],
    [{ win32ExitCode: 1053 }, "STOPPED with error 1053"],
    [{ currentState: 3, processId: 7, win32ExitCode: 1066 }, "STOP_PENDING (pid 7)"],
  ];
  for (const [fields, text] of table) {
    await t.step(text, () => assert.equal(describeStatus(status(fields)), text));
  }
});
