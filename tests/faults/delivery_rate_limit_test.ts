/**
 * Against the reference double, which (like the real server) sends
 * X-RateLimit-* only on 429, an agent process whose server allows fewer requests than the
 * default it assumes meets one 429 in all, learns the budget from it and paces by it after.
 * (The default limit, 60 per 60 s, without any 429 is measured by `deno task bench`: a test
 * would wait a minute.)
 */
import assert from "node:assert/strict";
import { AgentProcess } from "../support/agent_process.ts";
import { agentDir, eventually, journalRows, TEST_API_KEY } from "../support/files.ts";
import { writeAgentConfig } from "../support/hostile_server.ts";
import { ReferenceServer } from "../support/reference_server.ts";

Deno.test("a lower limit than the default costs one 429 in all: learned, then paced", async () => {
  const events = 45;
  await using server = await ReferenceServer.start({
    apiKeys: [TEST_API_KEY],
    rateLimit: { limit: 10, windowMs: 1000 },
    certBits: 2048,
  });
  const { dir, config } = await agentDir("usm-fault-rate-");
  await writeAgentConfig(config, { url: server.url, sha256: server.certificate!.sha256 });
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await agent.feed(
      ...Array.from({ length: events }, (_, i) => ({
        type: i % 2 === 0 ? "lock" : "unlock",
        user: "josh",
        session: 2,
        at: new Date(Date.UTC(2025, 3, 27, 7, 0, i)).toISOString(),
      })),
    );
    await server.waitFor((stored) => stored.length === events);
    await eventually(
      "every row sent",
      () => journalRows(dir),
      (rows) => rows.length === events && rows.every((r) => r.status !== 0),
    );
    const answers = server.requests().filter((r) => r.path === "/api/log_event");
    const limited = answers.filter((r) => r.status === 429);
    assert.equal(limited.length, 1, `${limited.length} answers were 429`);
    assert.ok(
      answers.filter((r) => r.status !== 429).every((r) =>
        r.responseHeaders["x-ratelimit-limit"] === undefined
      ),
      "the double sends the headers only on the 429",
    );
    await agent.waitForLine(/rate limit was reached \(10 requests per 1 s\)/);
  } finally {
    await agent.stop();
  }
  await Deno.remove(dir, { recursive: true });
});
