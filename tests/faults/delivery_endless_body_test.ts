/**
 * An endless answer body is read up to 1 MB, then the connection is dropped;
 * the agent does not read on until its 15 s time-out (one such attempt took 1.3 GB before).
 */
import assert from "node:assert/strict";
import { AgentProcess } from "../support/agent_process.ts";
import { agentDir, eventually, journalRows } from "../support/files.ts";
import { HostileServer, replies, writeAgentConfig } from "../support/hostile_server.ts";

Deno.test("an endless answer body is cut at 1 MB and its connection dropped", async () => {
  await using server = await HostileServer.start((request) =>
    request.path === "/api/health" ? replies.healthy() : { endless: true }
  );
  const { dir, config } = await agentDir("usm-fault-endless-");
  await writeAgentConfig(config, server);
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await agent.waitForLine(/Health check \(start\) passed/);
    await agent.feed({ type: "logon", user: "josh", session: 2, at: "2025-04-27T07:06:14Z" });
    // The agent gives up on the answer: the server's writer fails once the client closed.
    const sizes = await eventually(
      "the endless body to be dropped by the agent",
      () => server.endlessBytes.filter((n) => n !== undefined),
      (done) => done.length >= 1,
      20_000,
    );
    // 1 MB read, plus what the socket buffers held: far below what 15 s of reading would be.
    assert.ok(sizes[0] < 32 * 1024 * 1024, `${sizes[0]} bytes written before the drop`);
    assert.deepEqual((await journalRows(dir)).map((r) => r.status), [0], "kept pending");
  } finally {
    await agent.stop();
  }
  await Deno.remove(dir, { recursive: true });
});
