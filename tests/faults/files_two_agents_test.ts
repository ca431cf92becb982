/**
 * Two agents started on one folder at the same instant: exactly one runs, and the other says
 * which process holds the folder (the pid the holder writes into agent.lock).
 */
import assert from "node:assert/strict";
import {
  AgentProcess,
  change,
  FaultBench,
  journalRows,
  stopOrFail,
} from "./journal_fault_support.ts";
import { eventually } from "../support/files.ts";

Deno.test({
  name: "of two agents started at once on one folder exactly one runs; the other names its pid",
  ignore: Deno.build.os === "windows",
  async fn() {
    const bench = await FaultBench.start();
    try {
      const { dir, config } = await bench.folder();
      const agents = [AgentProcess.start(config), AgentProcess.start(config)];
      const outcome = await Promise.all(agents.map((agent) =>
        Promise.race([
          agent.ready(60_000).then(() => "ready" as const),
          agent.child.status.then(() => "exited" as const),
        ])
      ));
      assert.deepEqual([...outcome].sort(), ["exited", "ready"], "exactly one runs");
      const winner = agents[outcome.indexOf("ready")];
      const loser = agents[outcome.indexOf("exited")];
      assert.equal((await loser.close()).code, 1);
      assert.ok(
        loser.lines.some((line) =>
          line.includes(`Another agent (pid ${winner.pid}) is already running with ${dir}`)
        ),
        loser.lines.join("\n"),
      );
      await winner.feed(change("one-of-two"));
      await eventually("the event journaled", () => journalRows(dir), (r) => r.length === 1);
      await bench.expectStored(["one-of-two"]);
      assert.equal(await stopOrFail(winner), 0);
    } finally {
      await bench.stop();
    }
  },
});
