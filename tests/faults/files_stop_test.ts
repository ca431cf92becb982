/**
 * After file activity in the agent's folder, SIGTERM still stops the agent
 * (before: `Deno.watchFs` on the folder, whose `close()` then blocked the runtime), and a change
 * of config.ini is still noticed (now by polling its identity, size and time on the clock),
 * including a change of the file a linked config.ini leads to, in a folder no watcher watched.
 *
 * The hang itself could not be reproduced here (Deno 2.9.6, Linux): the first test passes on the
 * old code too and guards the new mechanism; the second fails on the old code.
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
      await agent.waitForLine(/Reloading: config\.ini changed on disk/, undefined, from);
    } finally {
      assert.equal(await stopOrFail(agent), 0, agent.lines.slice(-10).join("\n"));
    }
  } finally {
    await bench.stop();
  }
});

Deno.test("a change of the file config.ini links to, in another folder, is noticed", async () => {
  const bench = await FaultBench.start();
  const elsewhere = await Deno.makeTempDir({ prefix: "usm-config-elsewhere-" });
  try {
    const { config } = await bench.folder();
    const real = join(elsewhere, "config.ini");
    await Deno.rename(config, real);
    await Deno.symlink(real, config);
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      const from = agent.lines.length;
      // Edited where it lives (e.g. by configuration management): nothing moves in the folder
      // a folder watcher watched.
      const text = await Deno.readTextFile(real);
      await Deno.writeTextFile(real, text.replace(/^timezone = .*$/m, "timezone = Europe/Paris"));
      await agent.waitForLine(/Reloading: config\.ini changed on disk/, undefined, from);
    } finally {
      assert.equal(await stopOrFail(agent), 0);
    }
  } finally {
    await bench.stop();
    await Deno.remove(elsewhere, { recursive: true });
  }
});

Deno.test("the agent stops on SIGTERM while its simulated input has not sent a line yet", async () => {
  // The leading `present` lines of --simulate are read in the background: a stop must not wait
  // for a first line that never comes (it did: SIGTERM was ignored until SIGKILL).
  const bench = await FaultBench.start();
  try {
    const { config } = await bench.folder();
    const agent = AgentProcess.start(config);
    await agent.ready();
    assert.equal(await stopOrFail(agent), 0, agent.lines.slice(-10).join("\n"));
    assert.ok(!agent.lines.some((line) => / ERROR /.test(line)), agent.lines.join("\n"));
  } finally {
    await bench.stop();
  }
});
