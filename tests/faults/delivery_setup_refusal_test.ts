/**
 * A 4xx caused by the setup, not by the event, never marks events refused for
 * good. A wrong server answering 400 to everything, or 431 to a request whose headers it cannot
 * take (a huge API key), fails the health check too: sending pauses and the events stay pending.
 */
import assert from "node:assert/strict";
import { AgentProcess } from "../support/agent_process.ts";
import { agentDir, eventually, journalRows } from "../support/files.ts";
import { HostileServer, replies, writeAgentConfig } from "../support/hostile_server.ts";

const CHANGES = [
  { type: "logon", user: "josh", session: 2, at: "2025-04-27T07:06:14Z" },
  { type: "lock", user: "josh", session: 2, at: "2025-04-27T07:16:14Z" },
  { type: "unlock", user: "josh", session: 2, at: "2025-04-27T07:26:14Z" },
];

for (
  const [name, status, body] of [
    ["400 to every request (the wrong server)", 400, "<h1>Bad Request</h1>"],
    ["431 to every request (headers too large)", 431, "Request Header Fields Too Large"],
  ] as const
) {
  Deno.test(`${name}: sending pauses, no event is refused for good`, async () => {
    await using server = await HostileServer.start(() => replies.status(status, body));
    const { dir, config } = await agentDir("usm-fault-refusal-");
    await writeAgentConfig(config, server);
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      await agent.waitForLine(/Health check \(start\) failed/);
      await agent.feed(...CHANGES);
      await agent.waitForLine(/the setup, not the events, is at fault/);
      const rows = await eventually("three rows", () => journalRows(dir), (r) => r.length === 3);
      assert.deepEqual(rows.map((r) => r.status), [0, 0, 0], "nothing marked refused (3)");
      assert.ok(!agent.lines.some((l) => /refused .* for good/.test(l)));
    } finally {
      await agent.stop();
    }
    assert.deepEqual((await journalRows(dir)).map((r) => r.status), [0, 0, 0]);
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("the same 400 to two different events while health passes: sending pauses, neither is refused", async () => {
  // A proxy or a wrong path prefix in front of a healthy server: the health check passes, and
  // every event is answered 400. The answer concerns the setup, not one event.
  await using server = await HostileServer.start((request) =>
    request.path === "/api/health" ? replies.healthy() : replies.status(400, "<h1>Bad Request</h1>")
  );
  const { dir, config } = await agentDir("usm-fault-refusal-healthy-");
  await writeAgentConfig(config, server);
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await agent.waitForLine(/Health check \(start\) passed/);
    await agent.feed(...CHANGES);
    const line = await agent.waitForLine(/the setup, not the events, is at fault/);
    assert.match(line, /answered 400 to two different events in a row/);
    const rows = await eventually("three rows", () => journalRows(dir), (r) => r.length === 3);
    assert.deepEqual(rows.map((r) => r.status), [0, 0, 0], "nothing marked refused (3)");
    assert.ok(!agent.lines.some((l) => /refused .* for good/.test(l)));
  } finally {
    await agent.stop();
  }
  assert.deepEqual((await journalRows(dir)).map((r) => r.status), [0, 0, 0]);
  await Deno.remove(dir, { recursive: true });
});
