/**
 * A server (or a proxy) that, for a while, sends its status line one byte every 10 s and never
 * finishes the headers, over a kept-alive connection. Each request's time-out frees its socket
 * and nothing is sent that the agent does not wait for, so once the server behaves again the
 * stalled event is sent, and the events after it go too.
 *
 * Deno's node:http client sends a timed-out request again by itself on a new connection, with
 * no time-out: that request stalls for good and every later one, health checks included,
 * queues behind it (why transport.ts speaks HTTP on its own socket).
 */
import assert from "node:assert/strict";
import { AgentProcess } from "../support/agent_process.ts";
import { agentDir, eventually, journalRows } from "../support/files.ts";
import { HostileServer, replies, writeAgentConfig } from "../support/hostile_server.ts";

Deno.test("a trickled answer that never ends frees its connection on the time-out", async () => {
  // Every answer stalls until two event requests have stalled; then the server behaves.
  let stalled = 0;
  await using server = await HostileServer.start((request) => {
    if (stalled < 2 && server.requests.length > 1) {
      if (request.path === "/api/log_event") stalled++;
      return { trickle: "HTTP/1.1 201 CREATED\r\nContent-Ty", everyMs: 10_000 };
    }
    return request.path === "/api/health" ? replies.healthy() : replies.created();
  }, { keepAlive: true });
  const { dir, config } = await agentDir("usm-fault-stall-");
  await writeAgentConfig(config, server);
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    const users = ["josh", "anna", "li"];
    for (const [i, user] of users.entries()) {
      await agent.feed({
        type: "logon",
        user,
        session: i + 2,
        at: `2025-04-27T07:0${i}:14Z`,
      });
      await eventually(
        `the event of ${user} sent`,
        () => journalRows(dir),
        (rows) => rows.length === i + 1 && rows.every((r) => r.status !== 0),
        90_000,
      );
    }
    const rows = await journalRows(dir);
    assert.deepEqual(rows.map((r) => r.status), [2, 1, 1], "the stalled one sent on a retry");
    assert.equal(server.on("/api/log_event").length, 5, "2 stalled, then one request per event");
    await eventually(
      "the stalled connections dropped",
      () => server.tricklesDropped,
      (n) => n === 2,
    );
  } finally {
    await agent.stop();
  }
  await Deno.remove(dir, { recursive: true });
});
