/**
 * What the agent writes to the system's event log (Windows: the Application log), through the
 * real agent with a {@link MemoryEventLog}: start and stop, a start failure with its service
 * exit code, config.ini broken and fixed, sending paused by the server's 401 and resumed, and an
 * event_log.csv the disk refuses (a real, tiny tmpfs). Real files, the reference server double
 * on 127.0.0.1; the Windows writer itself is tested under Wine (src/windows/eventlog/app_event_log_test.ts,
 * tests/windows/event_log_service_test.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../src/agent/agent.ts";
import { EVENT_IDS, type SystemEvent } from "../src/log/app_event_log.ts";
import { MemoryEventLog } from "./support/memory_app_event_log.ts";
import type { SystemEventLog } from "../src/platform.ts";
import { createPosixPlatform } from "../src/posix.ts";
import { canMount, eventually, journalRows, run, TEST_API_KEY } from "./support/files.ts";
import { ReferenceServer } from "./support/reference_server.ts";

const WRONG_KEY = "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a";

function configText(settings: Record<string, string>): string {
  return ["[API]", ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`), ""].join("\n");
}

function newAgent(dir: string, eventLog: MemoryEventLog): Agent {
  return new Agent({
    configPath: join(dir, "config.ini"),
    platform: createPosixPlatform(),
    version: "9.8.7",
    eventLog,
    watchConfig: false,
  });
}

function ids(log: MemoryEventLog): number[] {
  return log.entries.map((e) => e.id);
}

function assertNoSecret(entries: SystemEvent[], ...secrets: string[]): void {
  for (const entry of entries) {
    for (const secret of secrets) {
      assert.ok(!entry.text.includes(secret), `the key is in event ${entry.id}: ${entry.text}`);
    }
  }
}

Deno.test("start writes 100 with version, server and folder; stop writes 101 with the events waiting", async () => {
  const dir = await Deno.makeTempDir({ prefix: "usm-evlog-" });
  const log = new MemoryEventLog();
  try {
    await Deno.writeTextFile(
      join(dir, "config.ini"),
      configText({
        api_key: TEST_API_KEY,
        server_url: "http://127.0.0.1:9", // nothing listens: the event stays pending
        timezone: "UTC",
      }),
    );
    const agent = newAgent(dir, log);
    await agent.start();
    assert.deepEqual(log.entries, [{
      id: EVENT_IDS.started,
      level: "information",
      text: `User Session Monitor Agent 9.8.7 started: server http://127.0.0.1:9, folder ${dir}`,
    }]);
    await agent.sessions.record({
      type: "logon",
      user: "alice",
      session: 2,
      at: Temporal.Now.instant(),
    });
    await agent.stop();
    assert.deepEqual(log.entries[1], {
      id: EVENT_IDS.stopped,
      level: "information",
      text:
        "User Session Monitor Agent stopped: 1 event(s) not yet sent stay in event_log.csv and go at the next start",
    });
    assert.equal(log.entries.length, 2);
    assertNoSecret(log.entries, TEST_API_KEY);
    const sessionLog = await Deno.readTextFile(join(dir, "session_monitor.log"));
    assert.match(sessionLog, /Event 100 written to the Windows Event Log/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an Event Log that refuses every entry: the agent works on, error.log says it once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "usm-evlog-" });
  const refusing: SystemEventLog = {
    report() {
      throw new Error("ReportEventW failed: The event log file is full (error 1502)");
    },
  };
  try {
    const agent = new Agent({
      configPath: join(dir, "config.ini"),
      platform: createPosixPlatform(),
      version: "9.8.7",
      eventLog: refusing,
      watchConfig: false,
    });
    await agent.start(); // 200 (config.ini is new and incomplete), 100: both refused
    await agent.sessions.record({
      type: "lock",
      user: "bob",
      session: 3,
      at: Temporal.Now.instant(),
    });
    await agent.stop(); // 101 refused
    const errors = (await Deno.readTextFile(join(dir, "error.log"))).split("\n")
      .filter((line) => line.includes("Windows Event Log"));
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(
      errors[0],
      /ERROR Cannot write event 200 to the Windows Event Log: ReportEventW failed: The event log file is full \(error 1502\); the agent goes on/,
    );
    assert.equal((await journalRows(dir)).length, 1, "the event is in event_log.csv");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unreadable event_log.csv set aside at start reaches the Event Log as 301", async () => {
  const dir = await Deno.makeTempDir({ prefix: "usm-evlog-" });
  const log = new MemoryEventLog();
  try {
    await Deno.writeTextFile(join(dir, "config.ini"), configText({ api_key: TEST_API_KEY }));
    // Not the journal's header: the journal moves the file aside and starts a new one.
    await Deno.writeTextFile(join(dir, "event_log.csv"), "time,user\n1,2\n");
    const agent = newAgent(dir, log);
    await agent.start();
    await agent.stop();
    const setAside = log.entries.filter((e) => e.id === EVENT_IDS.journalSetAside);
    assert.equal(setAside.length, 1);
    assert.equal(setAside[0].level, "warning");
    assert.match(
      setAside[0].text,
      /could not be read \(its first line is not the journal's header\) and was set aside as .*event_log\.unreadable-.*\.csv/,
    );
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.ok(names.some((n) => /^event_log\.unreadable-.*\.csv$/.test(n)), names.join(", "));
    assertNoSecret(log.entries, TEST_API_KEY);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("301's text is redacted: a key quoted in the reason is masked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "usm-evlog-" });
  const log = new MemoryEventLog();
  try {
    await Deno.writeTextFile(join(dir, "config.ini"), configText({ api_key: TEST_API_KEY }));
    const agent = newAgent(dir, log);
    await agent.start();
    const path = join(dir, "event_log.csv");
    agent.journalSetAside({
      path,
      asidePath: `${path}.unreadable-1`,
      reason: `line 2 is not a row: "${TEST_API_KEY}"`,
    });
    await agent.stop();
    const setAside = log.entries.filter((e) => e.id === EVENT_IDS.journalSetAside);
    assert.match(setAside[0].text, /line 2 is not a row: "4795…93fa"/);
    assertNoSecret(log.entries, TEST_API_KEY);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a start that fails writes 102 with the service exit code: folder in use (1)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "usm-evlog-" });
  try {
    const first = newAgent(dir, new MemoryEventLog());
    await first.start();
    const second = new MemoryEventLog();
    await assert.rejects(
      () => newAgent(dir, second).start(),
      /Another agent \(pid \d+\) is already running/,
    );
    assert.deepEqual(ids(second), [EVENT_IDS.startFailed]);
    assert.equal(second.entries[0].level, "error");
    assert.match(
      second.entries[0].text,
      /^User Session Monitor Agent could not start \(service exit code 1: another agent is already running with the install folder \(agent\.lock is held\)\): Another agent \(pid \d+\) is already running with /,
    );
    await first.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config.ini broken: 200 once per distinct error, again after a fix, never with the key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "usm-evlog-" });
  const config = join(dir, "config.ini");
  const good = { api_key: TEST_API_KEY, server_url: "http://127.0.0.1:9", timezone: "UTC" };
  const log = new MemoryEventLog();
  try {
    await Deno.writeTextFile(config, configText(good));
    const agent = newAgent(dir, log);
    await agent.start();
    const configErrors = () => log.entries.filter((e) => e.id === EVENT_IDS.configError);

    // The key pasted on a line of its own, as happens: a syntax error that quotes the line.
    const pasted = configText(good) + TEST_API_KEY + "\n";
    await Deno.writeTextFile(config, pasted);
    await agent.reload();
    await agent.reload();
    await agent.reload();
    assert.equal(configErrors().length, 1, JSON.stringify(log.entries));
    assert.equal(configErrors()[0].level, "error");
    assert.match(configErrors()[0].text, /^config\.ini cannot be used: .*config\.ini/);

    // Another error: said once more.
    await Deno.writeTextFile(config, configText({ ...good, health_check_interval: "often" }));
    await agent.reload();
    await agent.reload();
    assert.equal(configErrors().length, 2);
    assert.match(configErrors()[1].text, /health_check_interval/);

    // Fixed, then the same error as before: said again, since it was fixed in between.
    await Deno.writeTextFile(config, configText(good));
    await agent.reload();
    assert.equal(configErrors().length, 2);
    await Deno.writeTextFile(config, configText({ ...good, health_check_interval: "often" }));
    await agent.reload();
    assert.equal(configErrors().length, 3);

    // An incomplete file stops sending as well.
    await Deno.writeTextFile(config, configText({ ...good, api_key: "" }));
    await agent.reload();
    assert.equal(configErrors().length, 4);
    assert.match(configErrors()[3].text, /api_key is not set/);
    await agent.stop();
    assertNoSecret(log.entries, TEST_API_KEY);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a 401 from the server: 206 once (not 201); the right key clears it (216)",
  sanitizeResources: false, // the reference server's connections close asynchronously
  sanitizeOps: false,
  async fn() {
    const server = await ReferenceServer.start({
      tls: false,
      apiKeys: [TEST_API_KEY],
      rateLimit: null,
    });
    const dir = await Deno.makeTempDir({ prefix: "usm-evlog-" });
    const config = join(dir, "config.ini");
    const settings = { server_url: server.url, timezone: "UTC", health_check_interval: "60" };
    const log = new MemoryEventLog();
    try {
      await Deno.writeTextFile(config, configText({ ...settings, api_key: WRONG_KEY }));
      const agent = newAgent(dir, log);
      await agent.start();
      for (const [i, user] of ["alice", "bob"].entries()) {
        await agent.sessions.record({
          type: "logon",
          user,
          session: 2 + i,
          at: Temporal.Instant.from(`2026-11-25T08:0${i}:00Z`),
        });
      }
      await eventually("206", () => ids(log), (l) => l.includes(EVENT_IDS.keyRefused));
      await eventually("paused", () => agent.status().paused ?? "", (p) => /API key/.test(p));
      await agent.health.check("test"); // fails (401): the same fact, no second entry
      const refused = log.entries.filter((e) => e.id === EVENT_IDS.keyRefused);
      assert.equal(refused.length, 1);
      assert.equal(refused[0].level, "error");
      assert.match(refused[0].text, /^API key refused: .*\. Events are kept in event_log\.csv/);
      assert.equal(server.stored().length, 0);

      await Deno.writeTextFile(config, configText({ ...settings, api_key: TEST_API_KEY }));
      await agent.reload();
      await server.waitFor((stored) => stored.length === 2);
      await agent.stop();
      // The events' fixed times may lie hours back: 204 and 214 (their age) are another test's.
      const backlog: number[] = [EVENT_IDS.backlogOld, EVENT_IDS.backlogCleared];
      assert.deepEqual(ids(log).filter((id) => !backlog.includes(id)), [
        EVENT_IDS.started,
        EVENT_IDS.keyRefused,
        EVENT_IDS.keyAccepted,
        EVENT_IDS.stopped,
      ]);
      assertNoSecret(log.entries, TEST_API_KEY, WRONG_KEY);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Fills the file system of `path` to the last byte. */
async function fill(path: string): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true });
  const block = new Uint8Array(4096);
  try {
    while (true) await file.write(block);
  } catch (error) {
    assert.ok(error instanceof Error);
  }
}

Deno.test({
  name: "event_log.csv refused by a full disk: 300 once per episode, not once per event",
  ignore: !canMount(),
  async fn() {
    const mount = await Deno.makeTempDir({ prefix: "usm-evlog-full-" });
    await run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mount);
    const log = new MemoryEventLog();
    const journalErrors = () => log.entries.filter((e) => e.id === EVENT_IDS.journalUnwritable);
    let n = 0;
    const overflow = async (agent: Agent) => {
      // The journal's last page still has room for a few rows; enough events overflow it.
      for (let i = 0; i < 400 && agent.status().unsaved < 20; i++) {
        await agent.sessions.record({
          type: "lock",
          user: `user-${n++}`,
          session: 2,
          at: Temporal.Instant.from("2026-11-25T08:00:00Z").add({ seconds: n }),
        });
      }
      assert.ok(agent.status().unsaved >= 20, "the disk took every event: it was not full");
    };
    try {
      const agent = newAgent(mount, log);
      await agent.start();
      const filler = join(mount, "filler.bin");

      await fill(filler);
      await overflow(agent);
      assert.equal(journalErrors().length, 1, JSON.stringify(log.entries));
      assert.equal(journalErrors()[0].level, "error");
      assert.match(
        journalErrors()[0].text,
        new RegExp(
          `^${
            join(mount, "event_log.csv")
          } cannot be written: .*No space left on device.*\\. 1 event\\(s\\) are held in memory only`,
        ),
      );

      // The held events are tried again every 5 s: a retry refused while the disk is still full
      // is the same episode.
      await new Promise((resolve) => setTimeout(resolve, 7_000));
      assert.equal(journalErrors().length, 1, "a retry while full wrote a second 300");

      // Space freed: the held events reach the disk (retried every 5 s), the episode ends.
      await Deno.remove(filler);
      await eventually("held events on disk", () => agent.status().unsaved, (u) => u === 0);

      // Full again: a new episode, a new 300.
      await fill(filler);
      await overflow(agent);
      assert.equal(journalErrors().length, 2);
      await Deno.remove(filler);
      await agent.stop();
    } finally {
      await run("umount", mount);
      await Deno.remove(mount, { recursive: true });
    }
  },
});
