/**
 * A time zone that becomes invalid while the agent runs (config.ini edited to a zone that does
 * not exist): the agent keeps the last good settings, says so in status.json (and `--status`),
 * and goes on recording and sending events with the zone it had.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AgentProcess,
  change,
  eventually,
  FaultBench,
  journalRows,
  stopOrFail,
} from "./journal_fault_support.ts";

Deno.test("config.ini edited to a zone that does not exist: the last good zone stays in force", async () => {
  const bench = await FaultBench.start();
  try {
    const { dir, config } = await bench.folder();
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      await agent.feed(change("zone-before", 1));
      await eventually("the first event", () => journalRows(dir), (r) => r.length === 1);
      const text = await Deno.readTextFile(config);
      await Deno.writeTextFile(config, text.replace(/^timezone = .*$/m, "timezone = Mars/Olympus"));
      const status = await eventually(
        "status.json to report the bad zone",
        () => Deno.readTextFile(join(dir, "status.json")).then(JSON.parse).catch(() => ({})),
        (s) => typeof s.configError === "string" && s.configError.includes("Mars/Olympus"),
      );
      assert.equal(status.state, "running");
      await agent.feed(change("zone-after", 2));
      const rows = await eventually(
        "the second event",
        () => journalRows(dir),
        (r) => r.length === 2,
      );
      assert.match(rows[1].event.timestamp, /Z$/, "recorded in the last good zone (UTC)");
      await bench.expectStored(["zone-before", "zone-after"]);
    } finally {
      assert.equal(await stopOrFail(agent), 0, agent.lines.slice(-10).join("\n"));
    }
  } finally {
    await bench.stop();
  }
});
