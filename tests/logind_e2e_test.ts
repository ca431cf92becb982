/**
 * The Linux session source end to end: a real agent process (`--service run` without
 * `--simulate`) on a private system bus with a systemd-logind stand-in (tests/support/
 * logind_double.ts), sending to the reference server double. Each change is made only after
 * the previous one is in event_log.csv, as a person's changes come.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess, configureAgent } from "./support/agent_process.ts";
import { agentDir, eventually, journalRows, TEST_API_KEY } from "./support/files.ts";
import { LogindDouble, logindDoubleMissing } from "./support/logind_double.ts";
import { ReferenceServer } from "./support/reference_server.ts";

const missing = Deno.build.os === "linux" ? logindDoubleMissing() : "not Linux";
if (missing) console.warn(`tests/logind_e2e_test.ts skipped: ${missing}`);
const ignore = missing !== undefined;

interface Setup {
  server: ReferenceServer;
  dir: string;
  config: string;
  logind: LogindDouble;
  agent: () => AgentProcess;
}

async function withLogind(
  fn: (setup: Setup) => Promise<void>,
  options: { logind?: boolean } = {},
): Promise<void> {
  const server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], rateLimit: null });
  const { dir, config } = await agentDir("usm-logind-");
  const logind = await LogindDouble.start(options);
  let agent: AgentProcess | undefined;
  try {
    await configureAgent(config, server, ["--timezone", "UTC"]);
    await fn({
      server,
      dir,
      config,
      logind,
      agent: () =>
        agent = AgentProcess.start(config, {
          simulate: false,
          env: { DBUS_SYSTEM_BUS_ADDRESS: logind.address },
        }),
    });
  } catch (error) {
    throw new Error(`${error}\nagent said:\n${agent?.lines.slice(-25).join("\n")}`);
  } finally {
    await agent?.stop();
    await logind.stop();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function sessionSource(dir: string): Promise<string | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(join(dir, "status.json"))).sessionSource;
  } catch {
    return undefined;
  }
}

/** Waits until status.json says the agent follows logind. */
async function following(dir: string): Promise<void> {
  await eventually(
    "status.json sessionSource",
    () => sessionSource(dir),
    (s) => s === "systemd-logind",
  );
}

async function rows(dir: string): Promise<string[]> {
  return (await journalRows(dir)).map((e) => `${e.event.eventType} ${e.event.userName}`);
}

/** Waits until event_log.csv holds exactly `expected` (type and user of each row). */
async function journalIs(dir: string, expected: string[]): Promise<void> {
  await eventually(
    `event_log.csv to hold ${expected.join(", ")}`,
    () => rows(dir),
    (got) => got.length >= expected.length,
  );
  assert.deepEqual(await rows(dir), expected);
}

Deno.test({
  name: "logind: a session added, locked, unlocked and removed is journaled and sent",
  ignore,
  fn: () =>
    withLogind(async ({ server, dir, logind, agent }) => {
      await agent().ready();
      await following(dir);
      const steps: [() => Promise<void>, string][] = [
        [() => logind.addSession({ id: "3", name: "alice", type: "wayland" }), "Logon alice"],
        [() => logind.setLocked("3", true), "Lock alice"],
        [() => logind.setLocked("3", false), "Unlock alice"],
        [() => logind.removeSession("3"), "Logoff alice"],
      ];
      const expected: string[] = [];
      for (const [step, row] of steps) {
        await step();
        expected.push(row);
        await journalIs(dir, expected);
      }
      await server.waitFor((stored) => stored.length >= 4);
      assert.deepEqual(
        server.stored().map((s) => `${s.eventType} ${s.userName}`),
        expected,
      );
    }),
});

Deno.test({
  name: "logind: a session present at start gets a Logon at its own logon time",
  ignore,
  fn: () =>
    withLogind(async ({ dir, logind, agent }) => {
      const logonAt = Temporal.Instant.from("2025-01-14T08:00:00Z");
      await logind.addSession({ id: "c7", name: "bob@corp.example", timestamp: logonAt }, false);
      await logind.addSession({ id: "c8", name: "gdm", class: "greeter" }, false);
      await agent().ready();
      await journalIs(dir, ["Logon bob@corp.example"]);
      const [entry] = await journalRows(dir);
      assert.equal(entry.event.timestamp, "2025-01-14T08:00:00Z");
    }),
});

Deno.test({
  name: "logind: a greeter records nothing; a user's Logoff waits for their last session",
  ignore,
  fn: () =>
    withLogind(async ({ dir, logind, agent }) => {
      await agent().ready();
      await following(dir);
      await logind.addSession({ id: "c1", name: "gdm", class: "greeter", uid: 120 });
      await logind.addSession({ id: "4", name: "alice", type: "x11" });
      await journalIs(dir, ["Logon alice"]);
      await logind.addSession({ id: "5", name: "alice", type: "tty", remote: true });
      await journalIs(dir, ["Logon alice", "Logon alice"]);
      await logind.removeSession("4");
      // The next change shows that the removal above was followed and recorded nothing.
      await logind.setLocked("5", true);
      await journalIs(dir, ["Logon alice", "Logon alice", "Lock alice"]);
      await logind.removeSession("c1");
      await logind.removeSession("5");
      await journalIs(dir, ["Logon alice", "Logon alice", "Lock alice", "Logoff alice"]);
    }),
});

Deno.test({
  name: "logind: a shutdown records the Logoffs of users logged on, then releases the inhibitor",
  ignore,
  fn: () =>
    withLogind(async ({ dir, logind, agent }) => {
      await logind.addSession({ id: "2", name: "carol" }, false);
      const process = agent();
      await process.ready();
      await journalIs(dir, ["Logon carol"]);
      assert.equal(await logind.inhibitorsHeld(), 1);
      await logind.shutdown();
      await journalIs(dir, ["Logon carol", "Logoff carol"]);
      await eventually("the inhibitor released", () => logind.inhibitorsHeld(), (n) => n === 0);
      const status = await process.close();
      assert.equal(status.code, 0);
    }),
});

Deno.test({
  name: "logind: without logind on the bus the agent says so and sends what the journal holds",
  ignore,
  fn: () =>
    withLogind(async ({ server, dir, config, logind }) => {
      // An event journaled by an earlier run, not yet sent.
      const earlier = AgentProcess.start(config);
      await earlier.ready();
      server.setMode("error500");
      await earlier.feed({ type: "logon", user: "dave", session: 2 });
      await journalIs(dir, ["Logon dave"]);
      await earlier.stop("SIGKILL");
      assert.equal(server.stored().length, 0);
      server.setMode("ok");
      const agent = AgentProcess.start(config, {
        simulate: false,
        env: { DBUS_SYSTEM_BUS_ADDRESS: logind.address },
      });
      try {
        await agent.ready();
        const source = await eventually(
          "status.json sessionSource",
          () => sessionSource(dir),
          (s) => s !== undefined,
        );
        assert.match(source!, /^none: org\.freedesktop\.login1 is not on the system bus/);
        await server.waitFor((stored) => stored.some((s) => s.userName === "dave"));
      } finally {
        await agent.stop();
      }
    }, { logind: false }),
});
