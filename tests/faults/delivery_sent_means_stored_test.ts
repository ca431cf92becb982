/**
 * Only the server's own "stored" answers mark an event sent. A 200 HTML page (a
 * captive portal, the wrong web server) or a 200 `{"status":"error"}` keeps the event pending,
 * and the agent says the answer does not come from the expected server.
 */
import assert from "node:assert/strict";
import { AgentProcess } from "../support/agent_process.ts";
import { agentDir, journalRows } from "../support/files.ts";
import { HostileServer, replies, writeAgentConfig } from "../support/hostile_server.ts";

const LOGON = { type: "logon", user: "josh", session: 2, at: "2025-04-27T07:06:14Z" };

for (
  const [name, answer, said] of [
    ["a 200 HTML page", replies.html, /answered 200 with an HTML page \("Guest WiFi/],
    ['a 200 {"status":"error"}', replies.statusError, /answered 200 with "status":"error"/],
  ] as const
) {
  Deno.test(`${name} to an event keeps it pending and says the answer is not the server's`, async () => {
    // The health check passes (the real server's answer); only the event endpoint misleads.
    await using server = await HostileServer.start((request) =>
      request.path === "/api/health" ? replies.healthy() : answer()
    );
    const { dir, config } = await agentDir("usm-fault-sent-");
    await writeAgentConfig(config, server);
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      await agent.waitForLine(/Health check \(start\) passed/);
      await agent.feed(LOGON);
      const line = await agent.waitForLine(/does not come from the expected server/);
      assert.match(line, said);
      assert.ok(server.on("/api/log_event").length >= 1, "the event was sent");
      const rows = await journalRows(dir);
      assert.deepEqual(rows.map((r) => r.status), [0], "still pending, not marked sent");
    } finally {
      await agent.stop();
    }
    // After the stop too: nothing settled the event on the way out.
    assert.deepEqual((await journalRows(dir)).map((r) => r.status), [0]);
    await Deno.remove(dir, { recursive: true });
  });
}
