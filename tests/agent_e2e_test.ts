/**
 * End to end on Linux: the real CLI and a real agent process (`--service run --simulate -`)
 * against the reference server double over HTTPS with its kind of certificate, real files.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { formatTimestamp } from "../src/event.ts";
import { AgentProcess, configureAgent, runCli } from "./support/agent_process.ts";
import {
  agentDir,
  assertSecretNowhere,
  eventually,
  journalRows,
  TEST_API_KEY,
} from "./support/files.ts";
import { HostileServer, replies, writeAgentConfig } from "./support/hostile_server.ts";
import { ReferenceServer } from "./support/reference_server.ts";

const RFC3339_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/;

/** A reference server double and a fresh agent folder for `fn`, both gone afterwards. */
async function withAgentSetup(
  fn: (setup: { server: ReferenceServer; dir: string; config: string }) => Promise<void>,
): Promise<void> {
  // A production server (waitress, gunicorn) that keeps connections: the agent reuses one.
  const server = await ReferenceServer.start({
    apiKeys: [TEST_API_KEY],
    rateLimit: null,
    keepAlive: true,
  });
  const { dir, config } = await agentDir();
  try {
    await fn({ server, dir, config });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function configure(config: string, server: ReferenceServer, extra: string[] = []) {
  return configureAgent(config, server, ["--timezone", "Europe/London", ...extra]);
}

Deno.test("an administrator's flags configure the agent and each event reaches the server once, as recorded", async () => {
  const outputs: string[] = [];
  await withAgentSetup(async ({ server, dir, config }) => {
    const configured = await configure(config, server);
    outputs.push(configured.stdout, configured.stderr);
    assert.match(configured.stdout, new RegExp(`SHA-256:\\s+${server.certificate!.sha256}`));
    assert.match(configured.stdout, /Health check passed/);
    assert.match(configured.stdout, /api_key = 4795…93fa/);

    const agent = AgentProcess.start(config);
    await agent.ready();
    const at = ["2025-04-27T07:06:14Z", "2025-04-27T07:06:24Z", "2025-04-27T07:08:30Z"];
    await agent.feed(
      { type: "logon", user: "Zoë", session: 2, at: at[0] },
      { type: "lock", user: `O'Neil, "JJ"`, session: 3, at: at[1] },
      { type: "unlock", user: "josh", session: 2, at: at[2] },
    );
    await server.waitFor((stored) => stored.length === 3);
    const rows = await eventually(
      "three sent rows",
      () => journalRows(dir),
      (r) => r.length === 3 && r.every((e) => e.status === 1),
    );
    const stored = server.stored();
    for (let i = 0; i < 3; i++) {
      const row = rows[i].event;
      const sent = stored[i];
      assert.equal(sent.eventType, row.eventType);
      assert.equal(sent.userName, row.userName);
      assert.equal(sent.computerName, row.computerName);
      assert.equal(sent.localIp, row.ipAddress);
      assert.equal(sent.ipAddress, row.ipAddress, "IPAddress must equal LocalIP");
      assert.equal(sent.timestamp, row.timestamp, "the row's timestamp is the one sent");
      assert.match(sent.timestamp, RFC3339_SECONDS);
      assert.equal(sent.retry, 0);
      assert.equal(row.timestamp, formatTimestamp(Temporal.Instant.from(at[i]), "Europe/London"));
    }
    assert.deepEqual(stored.map((s) => s.eventType), ["Logon", "Lock", "Unlock"]);
    assert.deepEqual(stored.map((s) => s.userName), ["Zoë", `O'Neil, "JJ"`, "josh"]);
    assert.equal(rows[0].event.timestamp, "2025-04-27T08:06:14+01:00");
    // One connection carries every event.
    const eventRequests = server.requests().filter((r) => r.path === "/api/log_event");
    const ports = new Set(eventRequests.map((r) => r.remotePort));
    assert.equal(
      ports.size,
      1,
      `events used ${ports.size} connections: ${
        JSON.stringify(server.requests().map((r) => [r.path, r.remotePort, r.connectionRequest]))
      }`,
    );

    const csv = await Deno.readTextFile(join(dir, "event_log.csv"));
    assert.ok(csv.startsWith("eventtype,username,hostname,ipaddress,timestamp,send_status\n"));
    assert.ok(csv.includes(`"O'Neil, ""JJ"""`), csv);

    const status = await eventually(
      "--status to show the health check",
      () => runCli(["--config", config, "--status"]),
      (result) => /Last health check:\s+passed/.test(result.stdout),
    );
    outputs.push(status.stdout, status.stderr);
    assert.match(status.stdout, /Agent:\s+running/);
    assert.match(status.stdout, /Last health check:\s+passed/);
    assert.match(status.stdout, /3 in event_log\.csv, 0 not yet sent/);
    assert.match(status.stdout, /API key:\s+4795…93fa/);

    const exit = await agent.stop("SIGTERM");
    assert.equal(exit.code, 0);
    outputs.push(agent.lines.join("\n"));
    const after = JSON.parse(await Deno.readTextFile(join(dir, "status.json")));
    assert.equal(after.state, "stopped");
    await assertSecretNowhere(dir, TEST_API_KEY, outputs);
  });
});

Deno.test("a failing server keeps events pending; they go out later with retry 1 and send_status 2", async () => {
  await withAgentSetup(async ({ server, dir, config }) => {
    await configure(config, server);
    const agent = AgentProcess.start(config);
    await agent.ready();
    await agent.waitForLine(/Health check \(start\) passed/);
    server.setMode("error500");
    await agent.feed({ type: "lock", user: "alice", session: 2, at: "2025-04-27T07:06:14Z" });
    await eventually("a 500 answer", () => server.count(500, "/api/log_event"), (n) => n >= 1);
    const pending = await journalRows(dir);
    assert.equal(pending.length, 1);
    assert.equal(pending[0].status, 0, "a failed event stays pending on disk");
    server.setMode("ok");
    await server.waitFor((stored) => stored.length === 1);
    assert.equal(server.stored()[0].retry, 1);
    await eventually("send_status 2", () => journalRows(dir), (r) => r[0]?.status === 2);
    await agent.stop();
  });
});

Deno.test("a rejected event is marked 3 and never blocks the events behind it", async () => {
  // The server refuses the first event for what it holds, every time it is sent, and stores
  // the others: whichever order the answers come in, only another event's 201 proves the 400.
  const stored: string[] = [];
  await using server = await HostileServer.start((request) => {
    if (request.path === "/api/health") return replies.healthy();
    const body = JSON.parse(request.body);
    if (body.UserName === "first") {
      return replies.status(400, `{"message":"Could not parse timestamp: ${body.Timestamp}"}`);
    }
    stored.push(body.UserName);
    return replies.created();
  });
  const { dir, config } = await agentDir();
  await writeAgentConfig(config, server);
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await agent.feed({ type: "logon", user: "first", session: 2, at: "2025-04-27T07:00:00Z" });
    await eventually("the 400", () => server.on("/api/log_event").length, (n) => n >= 1);
    await agent.feed({ type: "lock", user: "second", session: 2, at: "2025-04-27T07:00:01Z" });
    const rows = await eventually(
      "both rows settled",
      () => journalRows(dir),
      (r) => r.length === 2 && r.every((e) => e.status !== 0),
    );
    assert.deepEqual(rows.map((r) => r.status), [3, 1]);
    assert.deepEqual(stored, ["second"]);
    await eventually(
      "the refusal in error.log",
      () => Deno.readTextFile(join(dir, "error.log")).catch(() => ""),
      (text) => /refused Logon of first .* for good \(400\): Could not parse timestamp/.test(text),
    );
  } finally {
    await agent.stop();
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a rejected API key holds events until --api-key fixes it, and the key is masked everywhere", async () => {
  const wrongKey = "ffffeeeeddddccccbbbbaaaa9999888877776666555544443333222211110000";
  const outputs: string[] = [];
  await withAgentSetup(async ({ server, dir, config }) => {
    const setup = await runCli([
      "--config",
      config,
      "--url",
      server.url,
      "--api-key",
      wrongKey,
      "--pin-server-cert",
    ]);
    outputs.push(setup.stdout, setup.stderr);
    assert.equal(setup.code, 7, "config.ini written, its health check failed");
    assert.match(setup.stdout, /Health check failed: the server rejected the API key ffff…0000/);
    const agent = AgentProcess.start(config);
    await agent.ready();
    await agent.feed({ type: "logon", user: "alice", session: 2, at: "2025-04-27T07:00:00Z" });
    await agent.waitForLine(/rejected the API key ffff…0000/);
    const status = await eventually(
      "--status to show the rejected key",
      () => runCli(["--config", config, "--status"]),
      (result) => /Sending paused:.*rejected the API key ffff…0000/.test(result.stdout),
    );
    outputs.push(status.stdout, status.stderr);
    assert.match(status.stdout, /1 not yet sent/);

    // The key from standard input: it never stands on a command line (process listings).
    const fix = await runCli(["-config", config, "-api-key", "-"], {
      stdin: `${TEST_API_KEY}\r\n`,
    });
    outputs.push(fix.stdout, fix.stderr);
    assert.equal(fix.code, 0);
    assert.match(fix.stdout, /Health check passed/);
    await server.waitFor((stored) => stored.length === 1);
    await agent.waitForLine(/Reloading: config\.ini changed on disk/);
    await eventually("sent on retry", () => journalRows(dir), (r) => r[0]?.status === 2);
    await agent.stop();
    outputs.push(agent.lines.join("\n"));
    await assertSecretNowhere(dir, TEST_API_KEY, outputs);
    await assertSecretNowhere(dir, wrongKey, outputs);
  });
});

Deno.test("a broken config.ini at start costs no event: recorded, held, sent once fixed", async () => {
  await withAgentSetup(async ({ server, dir, config }) => {
    await configure(config, server);
    const good = await Deno.readTextFile(config);
    await Deno.writeTextFile(config, good.replace("debug_logs = false", "debug_logs = perhaps"));
    const agent = AgentProcess.start(config);
    await agent.ready();
    await agent.feed({ type: "unlock", user: "bob", session: 4, at: "2025-04-27T07:00:00Z" });
    await eventually("the row on disk", () => journalRows(dir), (r) => r.length === 1);
    const errors = await Deno.readTextFile(join(dir, "error.log"));
    assert.match(errors, /Invalid value for debug_logs in .*config\.ini line \d+: "perhaps"/);
    assert.match(errors, /nothing is sent until config\.ini is fixed/);
    const status = await runCli(["--config", config, "--status"]);
    assert.match(status.stdout, /Config error:.*debug_logs/);
    assert.equal(server.stored().length, 0);

    await Deno.writeTextFile(config, good);
    await server.waitFor((stored) => stored.length === 1);
    assert.equal(server.stored()[0].userName, "bob");
    await agent.stop();
  });
});

Deno.test("a stop while the server is down loses nothing: the next start sends the events", async () => {
  await withAgentSetup(async ({ server, dir, config }) => {
    await configure(config, server);
    await server.pause();
    const first = AgentProcess.start(config);
    await first.ready();
    for (let i = 0; i < 5; i++) {
      await first.feed({ type: "lock", user: `u${i}`, session: 2, at: `2025-04-27T07:00:0${i}Z` });
    }
    await eventually("five pending rows", () => journalRows(dir), (r) => r.length === 5);
    assert.equal((await first.stop("SIGTERM")).code, 0);
    assert.ok((await journalRows(dir)).every((r) => r.status === 0));

    await server.resume();
    const second = AgentProcess.start(config);
    await second.ready();
    await server.waitFor((stored) => stored.length === 5);
    assert.deepEqual(server.stored().map((s) => s.userName), ["u0", "u1", "u2", "u3", "u4"]);
    await eventually("all sent", () => journalRows(dir), (r) => r.every((e) => e.status === 2));
    await second.stop();
  });
});

Deno.test("malformed simulated lines are reported and skipped; the agent keeps going", async () => {
  await withAgentSetup(async ({ server, config }) => {
    await configure(config, server);
    const agent = AgentProcess.start(config);
    await agent.ready();
    await agent.feedRaw('{"type":"logon","user":"a","session":1}\nnot json\n{"type":"nap"}\n');
    await agent.feed({ type: "logoff", user: "a", session: 1 });
    await agent.waitForLine(/Skipped line 2 of standard input: not JSON/);
    await agent.waitForLine(/Skipped line 3 of standard input: "type" must be one of/);
    await server.waitFor((stored) => stored.length === 2);
    await agent.stop();
  });
});
