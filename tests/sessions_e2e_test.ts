/**
 * Sessions the agent did not see happen, end to end: real agent processes (`--service run
 * --simulate -`) against the reference server double, each scenario replayed with the
 * simulated clock, and each user's working time computed from what the double stored with the
 * server's own pairing rule (tests/support/time_report.ts).
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { AgentProcess, configureAgent } from "./support/agent_process.ts";
import { agentDir, eventually, journalRows, TEST_API_KEY } from "./support/files.ts";
import { ReferenceServer } from "./support/reference_server.ts";
import { userSeconds } from "./support/time_report.ts";
import { eventKey, type EventType } from "../src/event.ts";

const HOUR = 3600;
/** Days in winter: London is on UTC, so the times below read as the report shows them. */
const D1 = "2025-01-14";
const D2 = "2025-01-15";

type Line = Record<string, unknown>;

async function withSetup(
  fn: (s: { server: ReferenceServer; dir: string; config: string }) => Promise<void>,
  extra: string[] = [],
): Promise<void> {
  const server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], rateLimit: null });
  const { dir, config } = await agentDir("usm-sessions-");
  try {
    await configureAgent(config, server, ["--timezone", "Europe/London", ...extra]);
    await fn({ server, dir, config });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * One agent run: feeds `lines`, waits until the server stored `storedAfter` events in all and
 * the agent marked them sent, then feeds `end` (a stop, shutdown or power-loss line), the
 * server answering `endLatencyMs` late from then on, and waits for the process to exit.
 */
async function run(
  config: string,
  server: ReferenceServer,
  lines: Line[],
  options: { storedAfter: number; end: Line; endLatencyMs?: number },
): Promise<{ lines: string[]; code: number }> {
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await agent.feed(...lines);
    await server.waitFor((stored) => stored.length >= options.storedAfter);
    await eventually(
      `${options.storedAfter} events marked sent`,
      () => journalRows(dirname(config)),
      (rows) => rows.filter((row) => row.status !== 0).length >= options.storedAfter,
    );
    server.setDelay(options.endLatencyMs ?? 0);
    await agent.feed(options.end);
    const status = await agent.close();
    server.setDelay(0);
    return { lines: agent.lines, code: status.code };
  } catch (error) {
    await agent.stop("SIGKILL");
    throw new Error(`${error}\nagent said:\n${agent.lines.slice(-20).join("\n")}`);
  }
}

function at(day: string, time: string): string {
  return `${day}T${time}Z`;
}

function stored(server: ReferenceServer) {
  return server.stored().map((s) => ({ ...s }));
}

/** Asserts the report's time for `user` equals `expected` seconds within a minute. */
function assertWorked(server: ReferenceServer, user: string, expected: number): void {
  const got = userSeconds(stored(server), user);
  const rows = stored(server).map((s) => `${s.eventType} ${s.userName} ${s.timestamp}`);
  assert.ok(
    Math.abs(got - expected) <= 60,
    `${user} worked ${expected / HOUR} h; the report says ${got / HOUR} h from:\n${
      rows.join("\n")
    }`,
  );
}

/**
 * No two stored rows share the server's five-field duplicate key, and no event was sent again
 * after it was stored, except `cutInFlight` ("Logon 2025-01-14T07:55:00Z"): an event the power
 * cut may have caught between the server's 201 and the journal's durable send_status 2. A real
 * cut can land there too; the resend is answered 200 "already recorded", which the agent counts
 * as sent. It may happen once, never for another event.
 */
function assertNoEventTwice(server: ReferenceServer, options: { cutInFlight?: string } = {}): void {
  const keys = stored(server).map((s) =>
    eventKey({
      eventType: s.eventType as EventType,
      userName: s.userName,
      computerName: s.computerName,
      ipAddress: s.localIp ?? "",
      timestamp: s.timestamp,
    })
  );
  assert.equal(new Set(keys).size, keys.length, "an event reached the server twice");
  const duplicates = server.requests().filter((r) =>
    r.path === "/api/log_event" && r.status === 200
  ).map((r) => {
    const body = JSON.parse(r.body) as { EventType: string; Timestamp: string };
    return `${body.EventType} ${body.Timestamp}`;
  });
  const allowed = options.cutInFlight === undefined ? [] : [options.cutInFlight];
  assert.ok(
    duplicates.length === 0 || (duplicates.length === 1 && allowed.includes(duplicates[0])),
    `the server answered 'already recorded' for: ${duplicates.join(", ")}`,
  );
}

Deno.test("installed mid-session: the logon is recorded at its real time, learnt late", async () => {
  await withSetup(async ({ server, config }) => {
    const result = await run(config, server, [
      { type: "clock", at: at(D1, "10:00:00") },
      { type: "present", user: "alice", session: 2, logonAt: at(D1, "08:00:00") },
      { type: "logoff", user: "alice", session: 2, at: at(D1, "17:00:00") },
    ], { storedAfter: 2, end: { type: "stop" } });
    assert.equal(result.code, 0);
    assert.deepEqual(stored(server).map((s) => `${s.eventType} ${s.timestamp}`), [
      "Logon 2025-01-14T08:00:00Z",
      "Logoff 2025-01-14T17:00:00Z",
    ]);
    assert.ok(result.lines.some((l) => /Logon of alice .* recorded \(learnt late/.test(l)));
    assertWorked(server, "alice", 9 * HOUR);
  });
});

Deno.test("upgraded mid-session: the restart adds no second logon", async () => {
  await withSetup(async ({ server, config }) => {
    await run(config, server, [
      { type: "clock", at: at(D1, "08:00:00") },
      { type: "logon", user: "alice", session: 2, at: at(D1, "08:00:00") },
    ], { storedAfter: 1, end: { type: "stop", at: at(D1, "12:00:00") } });
    // The new version starts five minutes later; alice is still logged on.
    const second = await run(config, server, [
      { type: "clock", at: at(D1, "12:05:00") },
      { type: "present", user: "alice", session: 2, logonAt: at(D1, "08:00:00") },
      { type: "logoff", user: "alice", session: 2, at: at(D1, "17:00:00") },
    ], { storedAfter: 2, end: { type: "stop" } });
    assert.deepEqual(stored(server).map((s) => `${s.eventType} ${s.timestamp}`), [
      "Logon 2025-01-14T08:00:00Z",
      "Logoff 2025-01-14T17:00:00Z",
    ]);
    assert.ok(second.lines.some((l) => /Open sessions in event_log\.csv: alice/.test(l)));
    assertNoEventTwice(server);
    assertWorked(server, "alice", 9 * HOUR);
  });
});

Deno.test("power loss, then a start the next day: the logoff is inferred from sessions.json", async () => {
  await withSetup(async ({ server, dir, config }) => {
    const first = AgentProcess.start(config);
    await first.ready();
    await first.feed(
      { type: "clock", at: at(D1, "08:00:00") },
      { type: "present", none: true },
      { type: "logon", user: "alice", session: 2, at: at(D1, "08:00:00") },
      { type: "clock", at: at(D1, "12:00:00") },
    );
    await server.waitFor((s) => s.length === 1);
    // (Killed before it marks the Logon sent, the agent would resend it: the server's 200
    // "already recorded" is then right, but not what this test looks at.)
    await eventually(
      "the Logon marked sent",
      () => journalRows(dir),
      (rows) => rows[0]?.status === 1,
    );
    // The agent ran until 12:00, then the power went: a real SIGKILL, nothing closed.
    await eventually(
      "sessions.json written at 12:00",
      () => Deno.readTextFile(join(dir, "sessions.json")).catch(() => ""),
      (text) => text.includes(`"aliveAt":"${D1}T12:00:0`),
    );
    await first.stop("SIGKILL");
    const second = await run(config, server, [
      { type: "clock", at: at(D2, "08:30:00") },
      { type: "present", none: true }, // the machine rebooted: nobody is logged on yet
      { type: "logon", user: "alice", session: 1, at: at(D2, "09:00:00") },
      { type: "logoff", user: "alice", session: 1, at: at(D2, "17:00:00") },
    ], { storedAfter: 4, end: { type: "stop" } });
    const rows = stored(server).map((s) => `${s.eventType} ${s.timestamp}`);
    assert.equal(rows[1], "Logoff 2025-01-14T12:00:00Z");
    assert.ok(
      second.lines.some((l) =>
        /Logoff of alice at \S+ recorded \(inferred: .* no longer exists .*sessions\.json/.test(l)
      ),
      second.lines.join("\n"),
    );
    assertNoEventTwice(server);
    assertWorked(server, "alice", 4 * HOUR + 8 * HOUR);
  });
});

Deno.test("shutdown with two users logged on: both get a Logoff at the shutdown time", async () => {
  await withSetup(async ({ server, dir, config }) => {
    await run(config, server, [
      { type: "clock", at: at(D1, "08:00:00") },
      { type: "logon", user: "alice", session: 1, at: at(D1, "08:00:00") },
      { type: "logon", user: "bob", session: 2, at: at(D1, "09:00:00") },
      { type: "lock", user: "bob", session: 2, at: at(D1, "12:00:00") },
      { type: "unlock", user: "bob", session: 2, at: at(D1, "13:00:00") },
    ], {
      storedAfter: 4,
      end: { type: "shutdown", at: at(D1, "17:30:00") },
      // A real server's latency: the Logoff is stored before its answer comes.
      endLatencyMs: 300,
    });
    // The Logoff on the wire at the shutdown had its moment: stored, so marked sent (not resent).
    const storedAt = new Set(stored(server).map((s) => `${s.userName} ${Date.parse(s.timestamp)}`));
    const unmarked = (await journalRows(dir)).filter((row) =>
      row.status === 0 && storedAt.has(`${row.event.userName} ${Date.parse(row.event.timestamp)}`)
    );
    assert.deepEqual(unmarked, [], "stored by the server, still pending in event_log.csv");
    // The next boot sends what the shutdown recorded; nobody is logged on yet.
    await run(config, server, [
      { type: "clock", at: at(D2, "07:00:00") },
      { type: "present", none: true },
    ], {
      storedAfter: 6,
      end: { type: "stop" },
    });
    const logoffs = stored(server).filter((s) => s.eventType === "Logoff");
    assert.deepEqual(logoffs.map((s) => `${s.userName} ${s.timestamp}`).sort(), [
      "alice 2025-01-14T17:30:00Z",
      "bob 2025-01-14T17:30:00Z",
    ]);
    assertNoEventTwice(server);
    assertWorked(server, "alice", 9.5 * HOUR);
    assertWorked(server, "bob", 7.5 * HOUR);
  });
});

Deno.test("Remote Desktop: closed at 17:00, reconnected at 09:00 the next day", async () => {
  await withSetup(async ({ server, config }) => {
    await run(config, server, [
      { type: "clock", at: at(D1, "08:00:00") },
      { type: "logon", user: "alice", session: 3, at: at(D1, "08:00:00") },
      { type: "disconnect", user: "alice", session: 3, remote: true, at: at(D1, "17:00:00") },
      { type: "reconnect", user: "alice", session: 3, remote: true, at: at(D2, "09:00:00") },
      { type: "logoff", user: "alice", session: 3, at: at(D2, "17:00:00") },
    ], { storedAfter: 4, end: { type: "stop" } });
    assert.deepEqual(stored(server).map((s) => `${s.eventType} ${s.timestamp}`), [
      "Logon 2025-01-14T08:00:00Z",
      "Lock 2025-01-14T17:00:00Z",
      "Unlock 2025-01-15T09:00:00Z",
      "Logoff 2025-01-15T17:00:00Z",
    ]);
    assertWorked(server, "alice", 17 * HOUR);
  });
});

Deno.test("fast user switching between two users counts each one's own time", async () => {
  await withSetup(async ({ server, config }) => {
    await run(config, server, [
      { type: "clock", at: at(D1, "08:00:00") },
      { type: "logon", user: "alice", session: 1, at: at(D1, "08:00:00") },
      // alice switches user; bob signs in on the console
      { type: "disconnect", user: "alice", session: 1, at: at(D1, "10:00:00") },
      { type: "reconnect", user: "bob", session: 2, at: at(D1, "10:00:05") },
      { type: "logon", user: "bob", session: 2, at: at(D1, "10:00:10") },
      // bob switches back to alice, who unlocks her session
      { type: "disconnect", user: "bob", session: 2, at: at(D1, "12:00:00") },
      { type: "reconnect", user: "alice", session: 1, at: at(D1, "12:00:05") },
      { type: "unlock", user: "alice", session: 1, at: at(D1, "12:00:20") },
      { type: "logoff", user: "alice", session: 1, at: at(D1, "17:00:00") },
      { type: "logoff", user: "bob", session: 2, at: at(D1, "17:30:00") },
    ], { storedAfter: 8, end: { type: "stop" } });
    assertNoEventTwice(server);
    assertWorked(server, "alice", 7 * HOUR);
    assertWorked(server, "bob", 2 * HOUR);
  });
});

Deno.test("a power-loss line ends the process at once, after the minute write its time calls for", async () => {
  await withSetup(async ({ server, dir, config }) => {
    const agent = AgentProcess.start(config);
    await agent.ready();
    await agent.feed(
      { type: "clock", at: at(D1, "08:00:00") },
      { type: "present", user: "alice", session: 2, logonAt: at(D1, "07:55:00") },
      { type: "power-loss", at: at(D1, "12:00:00") },
    );
    const status = await agent.close();
    assert.equal(status.code, 137);
    const alive = JSON.parse(await Deno.readTextFile(join(dir, "sessions.json")));
    assert.match(alive.aliveAt, /^2025-01-14T12:00:00/);
    assert.deepEqual(alive.open, ["alice"]);
    // The next day: alice is gone; her Logon (recorded, perhaps not yet sent) and the inferred
    // Logoff reach the server.
    await run(config, server, [
      { type: "clock", at: at(D2, "08:00:00") },
      { type: "present", none: true },
    ], { storedAfter: 2, end: { type: "stop" } });
    // The Logon may have gone in the moment the sessions.json write took before the cut.
    assertNoEventTwice(server, { cutInFlight: `Logon ${at(D1, "07:55:00")}` });
    assertWorked(server, "alice", 4 * HOUR + 5 * 60);
  });
});
