/**
 * After an outage, the agent's rate window opens with the first request the server answers,
 * not with an attempt that never reached it (a refused connection): otherwise the agent's
 * window ends before the server's, and its next window's requests meet a 429.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess } from "../support/agent_process.ts";
import { agentDir, eventually, journalRows, TEST_API_KEY } from "../support/files.ts";
import { writeAgentConfig } from "../support/hostile_server.ts";
import { ReferenceServer } from "../support/reference_server.ts";

Deno.test("refused attempts during an outage do not anchor the rate window: no 429 after", async () => {
  await using server = await ReferenceServer.start({
    apiKeys: [TEST_API_KEY],
    rateLimit: { limit: 2, windowMs: 10_000 },
    certBits: 2048,
  });
  const { dir, config } = await agentDir("usm-fault-outage-window-");
  await writeAgentConfig(
    config,
    { url: server.url, sha256: server.certificate!.sha256 },
    { server_rate_limit: "2/10" },
  );
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await server.pause(); // the outage: connections are refused
    const event = (i: number) => ({
      type: i % 2 === 0 ? "lock" : "unlock",
      user: "josh",
      session: 2,
      at: new Date(Date.UTC(2025, 3, 27, 7, i, 0)).toISOString(),
    });
    await agent.feed(event(0));
    await eventually(
      "a refused attempt in status.json",
      () => Deno.readTextFile(join(dir, "status.json")).catch(() => ""),
      (text) => text.includes("Cannot reach"),
    );
    await server.resume();
    for (let i = 0; i < 4; i++) {
      if (i > 0) await agent.feed(event(i));
      await eventually(
        `event ${i} sent`,
        () => journalRows(dir),
        (rows) => rows.length === i + 1 && rows.every((r) => r.status !== 0),
        60_000,
      );
    }
    assert.equal(server.count(429, "/api/log_event"), 0, "no 429");
    assert.equal(server.stored().length, 4);
  } finally {
    await agent.stop();
  }
  await Deno.remove(dir, { recursive: true });
});
