/**
 * With health_check_interval = 0, a transient 401 or 404 page pauses sending,
 * and the paused agent asks the server again by itself, with backoff, until it can send.
 */
import assert from "node:assert/strict";
import { AgentProcess } from "../support/agent_process.ts";
import { agentDir, eventually, journalRows } from "../support/files.ts";
import { HostileServer, replies, writeAgentConfig } from "../support/hostile_server.ts";

for (
  const [name, transient, paused] of [
    [
      "a 401",
      () => replies.status(401, '{"message":"Invalid API key"}'),
      /rejected the API key .*sending is paused/,
    ],
    [
      "a 404 page",
      () => replies.status(404, "<h1>Not Found</h1>"),
      /not the event endpoint.*Sending is paused/,
    ],
  ] as const
) {
  Deno.test(`${name} while health checks are off: the paused agent probes again by itself`, async () => {
    let broken = true;
    await using server = await HostileServer.start((request) => {
      if (broken) return transient();
      return request.path === "/api/health" ? replies.healthy() : replies.created();
    });
    const { dir, config } = await agentDir("usm-fault-probe-");
    await writeAgentConfig(config, server, { health_check_interval: "0" });
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      await agent.feed({ type: "logon", user: "josh", session: 2, at: "2025-04-27T07:06:14Z" });
      await agent.waitForLine(paused);
      broken = false; // the server is back; no restart, no config change, no interval
      const rows = await eventually(
        "the event sent without a restart",
        () => journalRows(dir),
        (r) => r.length === 1 && r[0].status !== 0,
        30_000,
      );
      assert.equal(rows[0].status, 2, "sent on a retry");
      assert.ok(agent.lines.some((l) => /asking the server again/.test(l)));
    } finally {
      await agent.stop();
    }
    await Deno.remove(dir, { recursive: true });
  });
}
