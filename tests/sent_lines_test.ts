/**
 * session_monitor.log says at the default level that events arrived: a line per event sent on
 * its own, one summary line when a backlog drains. A real agent process and the reference
 * server double over HTTPS.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess, configureAgent, runCli } from "./support/agent_process.ts";
import { agentDir, eventually, journalRows, TEST_API_KEY } from "./support/files.ts";
import { ReferenceServer } from "./support/reference_server.ts";

Deno.test({
  name: "a backlog drains with one summary line; a single event gets its own Sent line",
  sanitizeResources: false, // the double's connections close asynchronously
  sanitizeOps: false,
  async fn() {
    const server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], rateLimit: null });
    const { dir, config } = await agentDir("usm-sent-");
    let agent: AgentProcess | undefined;
    try {
      await configureAgent(config, server, ["--timezone", "UTC"]);
      // A backlog: three events recorded while server_url leads nowhere.
      const reachable = server.url;
      // Written; its health check fails (nothing listens on port 9): exit code 7.
      assert.equal((await runCli(["--config", config, "--url", "https://127.0.0.1:9"])).code, 7);
      agent = AgentProcess.start(config);
      await agent.ready();
      await agent.feed(
        { type: "logon", user: "ann", session: 2, at: "2025-04-27T07:00:00Z" },
        { type: "lock", user: "ann", session: 2, at: "2025-04-27T07:10:00Z" },
        { type: "unlock", user: "ann", session: 2, at: "2025-04-27T07:20:00Z" },
      );
      await eventually("three rows", () => journalRows(dir), (rows) => rows.length === 3);
      await agent.stop();

      assert.equal((await runCli(["--config", config, "--url", reachable])).code, 0);
      agent = AgentProcess.start(config);
      await server.waitFor((stored) => stored.length === 3, 30_000);
      await eventually("all sent", () => journalRows(dir), (r) => r.every((row) => row.status));
      await agent.feed({ type: "lock", user: "ann", session: 2, at: "2025-04-27T07:30:00Z" });
      await server.waitFor((stored) => stored.length === 4, 30_000);
      await eventually(
        "the fourth sent",
        () => journalRows(dir),
        (r) => r.length === 4 && r.every((row) => row.status),
      );
      await agent.stop();
      agent = undefined;

      const log = await Deno.readTextFile(join(dir, "session_monitor.log"));
      const sent = log.split("\n").filter((line) => / INFO +Sent /.test(line));
      assert.equal(sent.length, 2, sent.join("\n"));
      assert.match(
        sent[0],
        /Sent 3 waiting events, the last Unlock of ann at 2025-04-27T07:20:00Z; 0 wait$/,
      );
      assert.match(sent[1], /Sent Lock of ann at 2025-04-27T07:30:00Z$/);
    } finally {
      await agent?.stop();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
