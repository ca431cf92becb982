/**
 * A non-ASCII API key is refused when it is set (it could never travel in an
 * HTTP header); a redirect is reported with its Location and the setting to change; a 429
 * without rate-limit headers backs off instead of retrying every second.
 */
import assert from "node:assert/strict";
import { AgentProcess, runCli } from "../support/agent_process.ts";
import { agentDir, journalRows } from "../support/files.ts";
import { HostileServer, replies, writeAgentConfig } from "../support/hostile_server.ts";

const LOGON = { type: "logon", user: "josh", session: 2, at: "2025-04-27T07:06:14Z" };

Deno.test("a non-ASCII API key is refused by --api-key and in config.ini", async () => {
  const { dir, config } = await agentDir("usm-fault-ascii-");
  const key = "47959c6d5d8db64eb0ec3ad824ccbe8261863–2e2a58823d84aba92078da693fa"; // an en dash
  const flag = await runCli(["--config", config, "--api-key", key]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /Invalid value for --api-key \(api_key\): .*not ASCII/);
  assert.ok(!flag.stderr.includes(key), "the key is not echoed");

  await using server = await HostileServer.start(() => replies.healthy());
  await writeAgentConfig(config, server, { api_key: key });
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    const line = await agent.waitForLine(/Invalid value for api_key in .* not ASCII/);
    assert.ok(!line.includes(key));
  } finally {
    await agent.stop();
  }
  assert.equal(server.requests.length, 0, "nothing sent with a key that cannot be sent");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a redirect names its Location and what to set; the event stays pending", async () => {
  await using server = await HostileServer.start((request) =>
    request.path === "/api/health"
      ? replies.healthy()
      : replies.redirect("https://monitor.example.com:8443/api/log_event", 308)
  );
  const { dir, config } = await agentDir("usm-fault-redirect-");
  await writeAgentConfig(config, server);
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await agent.waitForLine(/Health check \(start\) passed/);
    await agent.feed(LOGON);
    const line = await agent.waitForLine(/answered 308, a redirect to/);
    assert.match(line, /redirect to https:\/\/monitor\.example\.com:8443\/api\/log_event/);
    assert.match(line, /--url https:\/\/monitor\.example\.com:8443/);
    assert.deepEqual((await journalRows(dir)).map((r) => r.status), [0]);
  } finally {
    await agent.stop();
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a 429 without rate-limit headers backs off", async () => {
  await using server = await HostileServer.start((request) =>
    request.path === "/api/health" ? replies.healthy() : replies.bareTooMany()
  );
  const { dir, config } = await agentDir("usm-fault-bare429-");
  await writeAgentConfig(config, server);
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await agent.waitForLine(/Health check \(start\) passed/);
    await agent.feed(LOGON);
    const line = await agent.waitForLine(/429 .*without X-RateLimit-Reset: backing off/);
    assert.match(line, /attempt 1 failed, next in/);
    const second = await agent.waitForLine(/attempt 2 failed, next in/);
    assert.match(second, /without X-RateLimit-Reset/);
    assert.deepEqual((await journalRows(dir)).map((r) => r.status), [0]);
  } finally {
    await agent.stop();
  }
  await Deno.remove(dir, { recursive: true });
});
