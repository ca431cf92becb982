/**
 * Signals other than SIGINT and SIGTERM: SIGHUP (a closed terminal, `systemctl reload` habits)
 * ended the agent at once (exit code 129) without its stop sequence, as did SIGUSR2 and SIGALRM.
 * SIGHUP now reloads config.ini (and runs a health check), and every other signal that would end
 * the process and can be caught stops the agent with its stop sequence (status.json "stopped").
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AgentProcess,
  change,
  eventually,
  FaultBench,
  journalRows,
} from "./journal_fault_support.ts";

async function statusState(dir: string): Promise<string | undefined> {
  const text = await Deno.readTextFile(join(dir, "status.json")).catch(() => "{}");
  return JSON.parse(text).state;
}

Deno.test({
  name: "SIGHUP reloads config.ini; SIGUSR2 and SIGALRM stop the agent with its stop sequence",
  ignore: Deno.build.os === "windows",
  async fn(t) {
    const bench = await FaultBench.start();
    try {
      await t.step("SIGHUP", async () => {
        const { dir, config } = await bench.folder();
        const agent = AgentProcess.start(config);
        try {
          await agent.ready();
          const checks = () => bench.server.requests().filter((r) => r.path === "/api/health");
          const before = (await eventually("the start's health check", checks, (c) =>
            c.length >= 1)).length;
          agent.child.kill("SIGHUP");
          await eventually("a health check after SIGHUP", checks, (c) => c.length > before);
          await agent.feed(change("after-sighup"));
          await eventually("the event journaled", () => journalRows(dir), (r) => r.length === 1);
          await bench.expectStored(["after-sighup"]);
        } finally {
          assert.equal((await agent.stop()).code, 0);
        }
      });
      for (const signal of ["SIGUSR2", "SIGALRM"] as const) {
        await t.step(signal, async () => {
          const { dir, config } = await bench.folder();
          const agent = AgentProcess.start(config);
          await agent.ready();
          await eventually("status.json running", () => statusState(dir), (s) => s === "running");
          const status = await agent.stop(signal);
          assert.equal(status.code, 0, agent.lines.slice(-5).join("\n"));
          assert.equal(status.signal, null);
          assert.equal(await statusState(dir), "stopped");
        });
      }
    } finally {
      await bench.stop();
    }
  },
});
