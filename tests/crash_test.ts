/**
 * Crash safety of the whole agent: a real agent process is killed with SIGKILL at random instants
 * (while starting, while events flow, while it sends, rotates and updates statuses) at least 200
 * times, while the server flaps. Afterwards every event the journal acknowledged is at the server
 * exactly once by its five fields, with the values of its row, and every journal file parses.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readJournal } from "../src/journal.ts";
import { AgentProcess, configureAgent } from "./support/agent_process.ts";
import { agentDir, eventually, TEST_API_KEY } from "./support/files.ts";
import { ReferenceServer } from "./support/reference_server.ts";

const KILLS = Number(Deno.env.get("USM_CRASH_KILLS") ?? 200);

/** A deterministic event source: event n is always the same line. */
function eventLine(n: number) {
  const types = ["logon", "lock", "unlock", "logoff"];
  const at = Temporal.Instant.from("2025-04-27T00:00:00Z").add({ seconds: n }).toString();
  return { type: types[n % 4], user: `user-${n}`, session: 1 + (n % 7), at };
}

/** Every row of the live journal and its archives, tolerating a torn last line. */
async function allRows(dir: string) {
  const rows: { file: string; event: Record<string, string>; status: number }[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!/^event_log(\.\d+)?\.csv$/.test(entry.name)) continue;
    const { entries } = await readJournal(join(dir, entry.name));
    for (const e of entries) {
      rows.push({ file: entry.name, event: { ...e.event }, status: e.status });
    }
  }
  return rows;
}

Deno.test({
  name:
    `the agent survives ${KILLS} SIGKILLs with a flapping server: every event at the server exactly once`,
  async fn() {
    // A production server that keeps connections open (the legacy one's new TLS handshake per
    // request would make the final drain of thousands of events slow, not less safe).
    const server = await ReferenceServer.start({
      apiKeys: [TEST_API_KEY],
      rateLimit: null,
      certBits: 2048,
      keepAlive: true,
    });
    const { dir, config } = await agentDir("usm-crash-");
    const seed = Number(Deno.env.get("USM_CRASH_SEED") ?? Date.now() % 100000);
    let state = seed;
    const random = () => {
      // xorshift: reproducible with USM_CRASH_SEED
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return ((state >>> 0) % 1_000_000) / 1_000_000;
    };
    const stats = { kills: 0, beforeReady: 0, tornTails: 0, flaps: 0, fed: 0 };
    try {
      await configureAgent(config, server, ["--timezone", "Europe/London"]);
      // Rotate every ~2 KB so kills also land inside rotations.
      const text = await Deno.readTextFile(config);
      await Deno.writeTextFile(
        config,
        text.replace(/event_log_rotation_size_mb = .*/, "event_log_rotation_size_mb = 0.002")
          // The server has no rate limit: say so, or the agent paces at the default 60 per 60 s.
          .replace(/^server_rate_limit = .*/m, "server_rate_limit = 0"),
      );

      const recorded = new Set<number>();
      let next = 0;
      let queue: number[] = [];
      for (let round = 0; round < KILLS; round++) {
        // The server flaps between rounds: fine, answering 500, or resetting connections.
        const mode = random();
        server.setMode(mode < 0.6 ? "ok" : mode < 0.8 ? "error500" : "reset");
        if (mode >= 0.6) stats.flaps++;

        const agent = AgentProcess.start(config);
        const killEarly = random() < 0.15;
        if (killEarly) {
          await new Promise((r) => setTimeout(r, random() * 250));
          stats.beforeReady++;
        } else {
          await agent.ready();
          const deadline = Date.now() + random() * 400;
          while (Date.now() < deadline) {
            if (queue.length === 0) queue = [next++, next++, next++];
            const n = queue.shift()!;
            await agent.feed(eventLine(n)).catch(() => {});
            stats.fed++;
            await new Promise((r) => setTimeout(r, random() * 15));
          }
        }
        agent.child.kill("SIGKILL");
        await agent.close();
        stats.kills++;

        // What the journal acknowledged survives; what it did not is fed again (the source
        // re-delivers it), exactly as an event the service never wrote would be lost to it.
        const before = recorded.size;
        const rows = await allRows(dir);
        for (const row of rows) recorded.add(Number(row.event.userName.slice(5)));
        const live = await readJournal(join(dir, "event_log.csv")).catch(() => undefined);
        if (live?.tornTail) stats.tornTails++;
        const fedNotRecorded = [];
        for (let n = 0; n < next; n++) {
          if (!recorded.has(n) && !queue.includes(n)) fedNotRecorded.push(n);
        }
        queue = [...fedNotRecorded, ...queue];
        assert.ok(recorded.size >= before, "an acknowledged event disappeared from the journal");
      }

      // The server comes back for good; one last agent drains everything.
      server.setMode("ok");
      const last = AgentProcess.start(config);
      await last.ready();
      await last.feed(...queue.map(eventLine));
      for (const n of queue) recorded.add(n);
      await eventually(
        "every recorded event at the server and nothing pending in the live journal",
        async () => ({
          live: (await readJournal(join(dir, "event_log.csv"))).entries,
          stored: server.stored().length,
        }),
        ({ live, stored }) => stored >= recorded.size && live.every((e) => e.status !== 0),
        60_000,
      );
      assert.equal((await last.stop("SIGTERM")).code, 0);

      // Exactly once at the server, by the five fields, with the row's values.
      const stored = server.stored();
      const keys = stored.map((s) =>
        [s.eventType, s.userName, s.computerName, s.localIp, s.timestamp].join("|")
      );
      assert.equal(new Set(keys).size, keys.length, "the server stored an event twice");
      const byUser = new Map(stored.map((s) => [s.userName, s]));
      assert.equal(stored.length, recorded.size, "the server has a different number of events");
      const rows = await allRows(dir);
      for (const row of rows) {
        const sent = byUser.get(row.event.userName);
        assert.ok(sent, `${row.event.userName} never reached the server`);
        assert.equal(
          sent.timestamp,
          row.event.timestamp,
          `${row.event.userName}: timestamp differs`,
        );
        assert.equal(sent.eventType, row.event.eventType);
        assert.equal(sent.localIp, row.event.ipAddress);
        assert.equal(sent.computerName, row.event.computerName);
      }
      // Any request the server saw for an event carried the same five values as its row.
      for (const request of server.requests().filter((r) => r.path === "/api/log_event")) {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(request.body);
        } catch {
          continue;
        }
        const sent = byUser.get(String(body.UserName));
        if (sent) assert.equal(body.Timestamp, sent.timestamp);
      }
      const live = await readJournal(join(dir, "event_log.csv"));
      assert.equal(live.tornTail, false, "the live journal does not parse after the last stop");
      console.log(
        `crash test (seed ${seed}): ${stats.kills} kills (${stats.beforeReady} before ready), ` +
          `${stats.fed} lines fed, ${recorded.size} events recorded and delivered exactly once, ` +
          `${stats.tornTails} torn tails repaired, ${stats.flaps} server flaps, ` +
          `${rows.filter((r) => r.file !== "event_log.csv").length} rows in archives`,
      );
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
