/**
 * The Event Log entries that tell a fleet's monitoring a PC stopped delivering: the server
 * unreachable for 30 minutes (203), events waiting more than 60 minutes (204), a certificate
 * that matches no pin (205), an API key the server refuses (206), each written once per fact and
 * cleared once (213 to 216). The real agent with a {@link MemoryEventLog} in place of the
 * Windows Application log (the OS boundary), the reference server double over HTTPS on
 * 127.0.0.1, real files; time moves by a manual clock where the condition is about time.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../src/agent/agent.ts";
import type { Clock } from "../src/clock.ts";
import { EVENT_IDS } from "../src/log/app_event_log.ts";
import { MemoryEventLog } from "./support/memory_app_event_log.ts";
import { createPosixPlatform } from "../src/posix.ts";
import { eventually, TEST_API_KEY } from "./support/files.ts";
import { ManualClock } from "./support/manual_clock.ts";
import { ReferenceServer } from "./support/reference_server.ts";

const WRONG_KEY = "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a";
const MINUTE = 60_000;

function configText(settings: Record<string, string>): string {
  return ["[API]", ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`), ""].join("\n");
}

function newAgent(dir: string, log: MemoryEventLog, clock?: Clock): Agent {
  return new Agent({
    configPath: join(dir, "config.ini"),
    platform: createPosixPlatform(),
    version: "9.8.7",
    eventLog: log,
    watchConfig: false,
    clock,
  });
}

const ids = (log: MemoryEventLog) => log.entries.map((e) => e.id);
const count = (log: MemoryEventLog, id: number) => ids(log).filter((i) => i === id).length;

Deno.test({
  name: "server down 30 minutes: 203 once, events 60 minutes old: 204 once; both cleared once",
  sanitizeResources: false, // the double's connections close asynchronously
  sanitizeOps: false,
  async fn() {
    const options = { apiKeys: [TEST_API_KEY], rateLimit: null };
    let server = await ReferenceServer.start(options);
    const port = server.port;
    const dir = await Deno.makeTempDir({ prefix: "usm-alarms-" });
    const clock = new ManualClock(Date.now());
    const log = new MemoryEventLog();
    const settings = {
      api_key: TEST_API_KEY,
      server_url: server.url,
      tls_server_sha256: server.certificate!.sha256,
      timezone: "UTC",
    };
    const agent = newAgent(dir, log, clock);
    const record = (user: string) =>
      agent.sessions.record({
        type: "logon",
        user,
        session: 2,
        at: Temporal.Instant.fromEpochMilliseconds(clock.wallNow()),
      });
    /**
     * Moves the clock a minute at a time to `minutes` after the start; while the server is down,
     * each minute waits for the next failed attempt (delivery retries within seconds), so the
     * alarms are looked at with attempts and checks in between, as in a real outage.
     */
    let at = 0;
    let down = false;
    const advanceTo = async (minutes: number) => {
      while (at < minutes) {
        const before = agent.status().lastError?.at;
        await clock.advance(MINUTE);
        at++;
        if (!down) continue;
        await eventually(
          `a failed attempt in minute ${at}`,
          () => agent.status().lastError?.at,
          (failedAt) => failedAt !== before,
        );
      }
    };
    try {
      await Deno.writeTextFile(join(dir, "config.ini"), configText(settings));
      await agent.start();
      await eventually(
        "the start's health check",
        () => agent.status().lastHealthCheck?.ok,
        Boolean,
      );
      await record("alice");
      await server.waitFor((stored) => stored.length === 1, 20_000);

      await server.stop(); // down: the next event fails to connect
      down = true;
      await record("bob");
      const failed = await eventually("a failed attempt", () => agent.status().lastError, Boolean);
      await advanceTo(29);
      assert.equal(count(log, EVENT_IDS.serverUnreachable), 0, "203 before 30 minutes");
      await advanceTo(31);
      await eventually("203", () => count(log, EVENT_IDS.serverUnreachable), (n) => n === 1);
      assert.equal(count(log, EVENT_IDS.backlogOld), 0, "204 before 60 minutes");
      await advanceTo(62);
      await eventually("204", () => count(log, EVENT_IDS.backlogOld), (n) => n === 1);
      await advanceTo(75); // more failed attempts and checks: the same facts, no new entry
      assert.equal(count(log, EVENT_IDS.serverUnreachable), 1);
      assert.equal(count(log, EVENT_IDS.backlogOld), 1);
      const unreachable = log.entries.find((e) => e.id === EVENT_IDS.serverUnreachable)!;
      assert.equal(unreachable.level, "warning");
      // Since the first failed attempt; why is the last attempt's reason, a health check's or
      // a delivery's ("Logon of bob ... not sent: Cannot reach ..."): whichever failed last.
      const since = new Date(failed!.at).toISOString().replace(/\./g, "\\.");
      assert.match(
        unreachable.text,
        new RegExp(
          `^The server https://127\\.0\\.0\\.1:${port} has been unreachable for 30 minutes or more \\(since ${since}\\): (Logon of bob at .* not sent: )?Cannot reach https://127\\.0\\.0\\.1:${port}: `,
        ),
      );
      assert.match(
        log.entries.find((e) => e.id === EVENT_IDS.backlogOld)!.text,
        /^Events older than 60 minutes wait to be sent: the oldest was recorded at .*; 1 event\(s\) wait/,
      );

      server = await ReferenceServer.start({ ...options, port }); // the same certificate
      down = false;
      await eventually("bob stored", async () => {
        await clock.advance(MINUTE);
        return server.stored().length;
      }, (n) => n === 1);
      await eventually(
        "213 and 214",
        () => ids(log),
        (l) => l.includes(EVENT_IDS.serverReachable) && l.includes(EVENT_IDS.backlogCleared),
      );
      await advanceTo(at + 5);
      await agent.stop();
      assert.deepEqual(ids(log), [
        EVENT_IDS.started,
        EVENT_IDS.serverUnreachable,
        EVENT_IDS.backlogOld,
        EVENT_IDS.serverReachable,
        EVENT_IDS.backlogCleared,
        EVENT_IDS.stopped,
      ]);
      assert.equal(log.entries[3].level, "information");
    } finally {
      await agent.stop();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a certificate no pin matches: 205 once, cleared once; a refused key: 206 once, cleared once",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], rateLimit: null });
    const dir = await Deno.makeTempDir({ prefix: "usm-alarms-" });
    const config = join(dir, "config.ini");
    const log = new MemoryEventLog();
    const good = {
      api_key: TEST_API_KEY,
      server_url: server.url,
      tls_server_sha256: server.certificate!.sha256,
      timezone: "UTC",
    };
    const agent = newAgent(dir, log);
    let n = 0;
    const record = () =>
      agent.sessions.record({
        type: "lock",
        user: `u${n++}`,
        session: 2,
        at: Temporal.Now.instant(),
      });
    try {
      await Deno.writeTextFile(
        config,
        configText({ ...good, tls_server_sha256: `${"0".repeat(64)},${"1".repeat(64)}` }),
      );
      await agent.start();
      await eventually("205", () => count(log, EVENT_IDS.pinMismatch), (c) => c === 1);
      await agent.health.check("test");
      await record(); // delivery meets the same certificate
      await eventually(
        "a failed attempt",
        () => agent.status().lastError?.message ?? "",
        (m) => /does not match/.test(m),
      );
      assert.equal(count(log, EVENT_IDS.pinMismatch), 1);
      const mismatch = log.entries.find((e) => e.id === EVENT_IDS.pinMismatch)!;
      assert.equal(mismatch.level, "error");
      assert.match(
        mismatch.text,
        /does not match tls_server_sha256: it is [0-9a-f]{64}, expected 0{64} or 1{64}/,
      );

      await Deno.writeTextFile(config, configText(good));
      await agent.reload();
      await server.waitFor((stored) => stored.length === 1, 20_000);
      assert.equal(count(log, EVENT_IDS.pinMatched), 1);

      await Deno.writeTextFile(config, configText({ ...good, api_key: WRONG_KEY }));
      await agent.reload();
      await eventually("206", () => count(log, EVENT_IDS.keyRefused), (c) => c === 1);
      await record(); // delivery's 401 is the same fact
      await eventually("paused", () => agent.status().paused ?? "", (p) => /API key/.test(p));
      await agent.health.check("test");
      assert.equal(count(log, EVENT_IDS.keyRefused), 1);
      const refused = log.entries.find((e) => e.id === EVENT_IDS.keyRefused)!;
      assert.equal(refused.level, "error");
      assert.match(refused.text, /^API key refused: the server rejected the API key 0d1e…4f5a/);

      await Deno.writeTextFile(config, configText(good));
      await agent.reload();
      await server.waitFor((stored) => stored.length === 2, 20_000);
      await agent.stop();
      assert.deepEqual(ids(log), [
        EVENT_IDS.started,
        EVENT_IDS.pinMismatch,
        EVENT_IDS.pinMatched,
        EVENT_IDS.keyRefused,
        EVENT_IDS.keyAccepted,
        EVENT_IDS.stopped,
      ]);
      for (const entry of log.entries) {
        assert.ok(!entry.text.includes(TEST_API_KEY) && !entry.text.includes(WRONG_KEY));
      }
    } finally {
      await agent.stop();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
