/**
 * `--status` on a full disk (a real, tiny tmpfs): the agent holds events in memory, and status.json,
 * which cannot be replaced by a new file any more, is rewritten in place, so `--status` shows the
 * held events (exit code 9) and no temporary file is left behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess, configureAgent, runCli } from "./support/agent_process.ts";
import { canMount, eventually, run, TEST_API_KEY, withoutRateLimit } from "./support/files.ts";
import { ReferenceServer } from "./support/reference_server.ts";
import type { StatusReport } from "../src/status/command.ts";

async function statusReport(config: string): Promise<StatusReport> {
  const result = await runCli(["--status", "--json", "--config", config]);
  return JSON.parse(result.stdout) as StatusReport;
}

Deno.test({
  name: "on a full disk --status shows the events held in memory (exit code 9), then clears",
  ignore: !canMount(),
  async fn() {
    const server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], rateLimit: null });
    const mount = await Deno.makeTempDir({ prefix: "usm-status-full-" });
    await run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mount);
    const config = join(mount, "config.ini");
    let agent: AgentProcess | undefined;
    try {
      await configureAgent(config, server);
      // More than 60 events: the agent is told the server has no rate limit (otherwise it paces
      // by the server's default, 60 per 60 s).
      await withoutRateLimit(config);
      agent = AgentProcess.start(config);
      await agent.waitForLine(/Health check \(start\) passed/);
      await eventually("--status 0", () => statusReport(config), (r) => r.exitCode === 0);

      const filler = join(mount, "filler.bin");
      const file = await Deno.open(filler, { write: true, create: true });
      const block = new Uint8Array(4096);
      try {
        while (true) await file.write(block);
      } catch (error) {
        assert.ok(error instanceof Error);
      }
      file.close();
      const during = Array.from({ length: 150 }, (_, i) => ({
        type: "lock",
        user: `during-${i}`,
        session: 2,
        at: Temporal.Instant.from("2025-04-27T07:00:01Z").add({ seconds: i }).toString(),
      }));
      await agent.feed(...during);
      await agent.waitForLine(/Cannot write event_log\.csv in .*held in memory/);

      const full = await eventually(
        "--status to show the held events",
        () => statusReport(config),
        (r) => r.events.heldInMemory > 0,
      );
      assert.equal(full.exitCode, 9);
      assert.equal(full.verdict, "held-in-memory");
      const text = await runCli(["--status", "--config", config]);
      assert.equal(text.code, 9);
      assert.match(text.stdout, /^Not yet on disk: +\d+ events held in memory \(disk full\?\)$/m);
      const pending = await runCli(["--pending", "--config", config]);
      assert.match(
        pending.stdout,
        /^\d+ more events are held in memory: event_log\.csv cannot be written$/m,
      );
      const leftovers = [];
      for await (const entry of Deno.readDir(mount)) {
        if (entry.name.endsWith(".tmp")) leftovers.push(entry.name);
      }
      assert.deepEqual(leftovers, [], "a temporary file was left on the full disk");

      await Deno.remove(filler);
      await server.waitFor((stored) => stored.length === during.length);
      await eventually(
        "--status 0 again",
        () => statusReport(config),
        (r) => r.exitCode === 0 && r.events.heldInMemory === 0,
      );
      assert.equal((await agent.stop()).code, 0);
      agent = undefined;
    } finally {
      if (agent) await agent.stop("SIGKILL");
      await run("umount", mount).catch(() => {});
      await Deno.remove(mount, { recursive: true });
      await server.stop();
    }
  },
});
