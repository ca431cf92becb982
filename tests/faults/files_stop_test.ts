/**
 * Issue 8, item 12: after file activity in the agent's folder, SIGTERM still stops the agent
 * (before: `Deno.watchFs` on the folder, whose `close()` then blocked the runtime), and a change
 * of config.ini is still noticed (now by polling its identity, size and time on the clock).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess, change, FaultBench, runCli, stopOrFail } from "./journal_fault_support.ts";

Deno.test("the agent stops on SIGTERM after file activity in its folder and still sees config.ini change", async () => {
  const bench = await FaultBench.start();
  try {
    const { dir, config } = await bench.folder();
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      // Activity in the folder: other files written, renamed and removed, events journaled.
      for (let i = 0; i < 20; i++) {
        await Deno.writeTextFile(join(dir, `notes-${i}.txt`), "x".repeat(i));
        await Deno.rename(join(dir, `notes-${i}.txt`), join(dir, `moved-${i}.txt`));
        await agent.feed(change(`activity-${i}`, i));
      }
      for (let i = 0; i < 20; i++) await Deno.remove(join(dir, `moved-${i}.txt`));
      await bench.expectStored(Array.from({ length: 20 }, (_, i) => `activity-${i}`));
      const from = agent.lines.length;
      const cli = await runCli(["--config", config, "--timezone", "Europe/Paris"]);
      assert.equal(cli.code, 0, cli.stderr);
      await agent.waitForLine(/Reloading: config\.ini changed on disk/, 20_000, from);
    } finally {
      assert.equal(await stopOrFail(agent), 0, agent.lines.slice(-10).join("\n"));
    }
  } finally {
    await bench.stop();
  }
});
