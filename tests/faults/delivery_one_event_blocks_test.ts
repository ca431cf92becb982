/**
 * One event the server fails every time (500 "surrogates not allowed") does not
 * hold the events behind it; and names are clipped by code points, so the row in event_log.csv
 * and the body sent carry the same text, without a lone surrogate.
 */
import assert from "node:assert/strict";
import { AgentProcess } from "../support/agent_process.ts";
import { agentDir, eventually, journalRows } from "../support/files.ts";
import {
  type HostileRequest,
  HostileServer,
  replies,
  writeAgentConfig,
} from "../support/hostile_server.ts";

const at = (minute: number) => `2025-04-27T07:${String(minute).padStart(2, "0")}:14Z`;

Deno.test("an event the server fails every time waits on its own backoff while the others go on", async () => {
  const poisoned = (request: HostileRequest) => request.body.includes('"UserName":"poison"');
  await using server = await HostileServer.start((request) => {
    if (request.path === "/api/health") return replies.healthy();
    if (poisoned(request)) {
      return replies.status(
        500,
        '{"message":"Failed to log event: surrogates not allowed","status":"error"}',
      );
    }
    return replies.created();
  });
  const { dir, config } = await agentDir("usm-fault-block-");
  await writeAgentConfig(config, server);
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await agent.waitForLine(/Health check \(start\) passed/);
    await agent.feed(
      { type: "logon", user: "poison", session: 1, at: at(1) },
      { type: "logon", user: "anna", session: 2, at: at(2) },
      { type: "lock", user: "anna", session: 2, at: at(3) },
      { type: "unlock", user: "anna", session: 2, at: at(4) },
    );
    const rows = await eventually(
      "the three events behind the failing one sent",
      () => journalRows(dir),
      (r) => r.length === 4 && r.slice(1).every((e) => e.status === 1),
    );
    assert.equal(rows[0].status, 0, "the failing event is kept, not dropped");
    assert.ok(server.requests.some(poisoned));
    await agent.waitForLine(/the others go on/);
  } finally {
    await agent.stop();
  }
  assert.equal((await journalRows(dir))[0].status, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a name whose 50th character is an emoji: the row and the body are identical, no lone surrogate", async () => {
  await using server = await HostileServer.start((request) =>
    request.path === "/api/health" ? replies.healthy() : replies.created()
  );
  const { dir, config } = await agentDir("usm-fault-clip-");
  await writeAgentConfig(config, server);
  const name = "a".repeat(49) + "😀" + "tail";
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await agent.feed({ type: "logon", user: name, session: 1, at: at(5) });
    const rows = await eventually(
      "the event sent",
      () => journalRows(dir),
      (r) => r.length === 1 && r[0].status === 1,
    );
    const sent = JSON.parse(server.on("/api/log_event")[0].body);
    assert.equal(sent.UserName, rows[0].event.userName, "the body carries the row's name");
    assert.equal(sent.UserName, "a".repeat(49) + "😀", "50 code points, the emoji whole");
    assert.ok(sent.UserName.isWellFormed());
  } finally {
    await agent.stop();
  }
  await Deno.remove(dir, { recursive: true });
});
