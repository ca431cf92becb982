/**
 * One `--simulate` line whose `at` no event timestamp can hold is reported and
 * skipped; the lines after it are still read.
 */
import assert from "node:assert/strict";
import { AgentProcess, change, FaultBench, stopOrFail } from "./journal_fault_support.ts";

Deno.test("a simulated line with an out-of-range time is skipped and later lines still count", async () => {
  const bench = await FaultBench.start();
  try {
    const { config } = await bench.folder();
    // West of UTC, the earliest instant Temporal holds has no local date: formatting it threw.
    const text = await Deno.readTextFile(config);
    await Deno.writeTextFile(
      config,
      text.replace(/^timezone = .*$/m, "timezone = America/New_York"),
    );
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      await agent.feed({
        type: "logon",
        user: "too-early",
        session: 2,
        at: "-271821-04-20T00:00:00Z",
      });
      await agent.feed(change("after-the-bad-line"));
      await agent.waitForLine(/Skipped line 1 of .*"at" is outside the years 0002 to 9998/);
      await bench.expectStored(["after-the-bad-line"]);
    } finally {
      assert.equal(await stopOrFail(agent), 0);
    }
  } finally {
    await bench.stop();
  }
});
