/**
 * Delivery against the reference server double over HTTPS with its self-signed CA:TRUE
 * certificate (pinned), with the real journal (event_log.csv) and the real clock.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Clock, systemClock } from "../src/clock.ts";
import { Delivery } from "../src/delivery/delivery.ts";
import { eventBody } from "../src/delivery/event_answer.ts";
import type { SessionEvent } from "../src/event.ts";
import { Journal, readJournal } from "../src/journal/journal.ts";
import { Transport } from "../src/net/transport.ts";
import { eventually } from "./support/files.ts";
import { DEFAULT_API_KEY, ReferenceServer } from "./support/reference_server.ts";

function events(count: number): SessionEvent[] {
  const start = Temporal.Instant.from("2025-04-27T07:00:00Z");
  const types = ["Logon", "Lock", "Unlock", "Logoff"] as const;
  return Array.from({ length: count }, (_, n) => ({
    eventType: types[n % 4],
    userName: `user${n % 7}`,
    computerName: "DESKTOP-5D51HM9",
    ipAddress: "192.168.66.34",
    timestamp: start.add({ seconds: n }).toZonedDateTimeISO("Europe/London").toString({
      timeZoneName: "never",
      smallestUnit: "second",
    }),
  }));
}

async function journalWith(dir: string, list: SessionEvent[]): Promise<Journal> {
  const journal = await Journal.open(join(dir, "event_log.csv"), { rotationSizeBytes: 0 });
  for (const event of list) await journal.append(event);
  return journal;
}

Deno.test({
  name: "delivery drains 1000 events oldest first within the server's rate limit",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "usm_delivery_" });
    // Lower than the default the agent assumes (60 per 60 s): one 429 teaches it this budget.
    // A production server that keeps the connection open.
    const window = { limit: 50, windowMs: 1000 };
    const server = await ReferenceServer.start({
      rateLimit: window,
      certBits: 2048,
      keepAlive: true,
    });
    const journal = await journalWith(dir, events(1000));
    const transport = new Transport(server.url, { pinSha256: server.certificate!.sha256 });
    const logs: string[] = [];
    const delivery = new Delivery({
      journal,
      transport: () => transport,
      apiKey: () => DEFAULT_API_KEY,
      log: (level, message) => logs.push(`${level} ${message}`),
    });
    const started = Date.now();
    try {
      delivery.kick();
      await eventually("the journal to drain", () => journal.pendingCount === 0, Boolean, 180_000);
      const elapsed = Date.now() - started;
      const stored = server.stored();
      assert.equal(stored.length, 1000);
      assert.deepEqual(
        stored.map((s) => s.timestamp),
        events(1000).map((e) => e.timestamp),
        "stored oldest first, each once",
      );
      // The event the 429 answered went again, as a retry; every other went once.
      assert.equal(stored.filter((s) => s.retry !== 0).length, 1);
      const requests = server.requests().filter((r) => r.path === "/api/log_event");
      // The only answers with X-RateLimit-* are 429s: the first teaches the budget, and the
      // agent's own count keeps it from a second.
      const limited = requests.filter((r) => r.status === 429);
      assert.equal(limited.length, 1, `${limited.length} answers were 429`);
      assert.equal(new Set(requests.map((r) => r.connectionId)).size, 1, "one connection");
      const { entries } = await readJournal(journal.path);
      assert.equal(entries.filter((e) => e.status === 1).length, 999);
      assert.equal(entries.filter((e) => e.status === 2).length, 1, "the one sent again");
      assert.equal(delivery.state().sent, 1000);
      assert.ok(!logs.some((line) => line.includes(DEFAULT_API_KEY)));
      console.log(
        `1000 events in ${elapsed} ms over ${requests.length} requests, ` +
          `${limited.length} answered 429 (limit ${window.limit} per ${window.windowMs} ms)`,
      );
    } finally {
      await delivery.stop();
      transport.close();
      await journal.close();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "delivery loses nothing through 500s, dropped connections, timeouts and restarts",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "usm_delivery_" });
    // The legacy server closes the connection after every answer. The server's limit is off
    // and the agent told so (rateBudget): the first test covers the rate limit, this one the
    // failures.
    const server = await ReferenceServer.start({
      certBits: 2048,
      rateLimit: null,
    });
    const list = events(60);
    // A previous process sent the first 5 but crashed before writing their status.
    const previous = new Transport(server.url, { pinSha256: server.certificate!.sha256 });
    for (const event of list.slice(0, 5)) {
      const answer = await previous.post(
        "/api/log_event",
        eventBody(event, { retry: false }),
        { "X-API-Key": DEFAULT_API_KEY, "Content-Type": "application/json" },
      );
      assert.equal(answer.status, 201);
    }
    previous.close();
    await (await journalWith(dir, list)).close();
    const journal = await Journal.open(join(dir, "event_log.csv"), { rotationSizeBytes: 0 });
    assert.equal(journal.pendingCount, 60);

    const transport = new Transport(server.url, {
      pinSha256: server.certificate!.sha256,
      timeoutMs: 300,
    });
    // Real time, short backoff steps: the jitter draw is kept small.
    const clock: Clock = { ...systemClock, random: () => 0.02 };
    const delivery = new Delivery({
      journal,
      transport: () => transport,
      apiKey: () => DEFAULT_API_KEY,
      clock,
      rateBudget: null,
      log: () => {},
    });
    server.onRequest = (record) => {
      switch (record.id) {
        case 5 + 8: // the 8th request of this process: a run of server errors
          server.failNext(3, 500);
          break;
        case 5 + 15: // connections dropped without an answer
          server.setMode("reset");
          break;
        case 5 + 18:
          server.setMode("ok");
          server.failNext(2, 0);
          break;
        case 5 + 25: // answers slower than the transport waits: stored, then resent
          server.setDelay(500);
          break;
        case 5 + 26:
          server.setDelay(0);
          break;
      }
    };
    try {
      delivery.kick();
      await eventually("the journal to drain", () => journal.pendingCount === 0, Boolean, 180_000);
      const stored = server.stored();
      assert.equal(stored.length, 60, "every event stored exactly once");
      assert.deepEqual(
        new Set(stored.map((s) => s.timestamp)),
        new Set(list.map((e) => e.timestamp)),
      );
      const answered = server.requests().slice(5);
      assert.ok(answered.some((r) => r.status === 500), "500s happened");
      assert.ok(answered.some((r) => r.status === 0), "dropped connections happened");
      const duplicates = answered.filter((r) => r.status === 200);
      assert.ok(duplicates.length >= 5, "the events sent before the crash answered 200");
      const stats = [500, 0, 200, 201].map((status) =>
        `${answered.filter((r) => r.status === status).length}x${status || "dropped"}`
      );
      console.log(`${answered.length} requests: ${stats.join(", ")}`);
      // An answer slower than the timeout was stored; its resend was answered 200.
      assert.ok(duplicates.length > 5, "a timed-out request was resent and answered 200");
      const { entries } = await readJournal(journal.path);
      assert.ok(entries.every((e) => e.status === 2), "recovered entries are marked 2");
      assert.equal(delivery.state().sent, 60, "duplicates count as sent");
      assert.equal(delivery.state().rejected, 0);
      // Every resend was flagged as a retry (they were all recovered from disk).
      const bodies = answered.map((r) => JSON.parse(r.body));
      assert.ok(bodies.every((b) => b.retry === 1));
    } finally {
      await delivery.stop();
      transport.close();
      await journal.close();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "delivery pauses on a rejected API key and resumes with the events intact",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "usm_delivery_" });
    const server = await ReferenceServer.start({ certBits: 2048 });
    const journal = await journalWith(dir, events(3));
    const transport = new Transport(server.url, { pinSha256: server.certificate!.sha256 });
    let key = "wrong-key-0123456789abcdef";
    const logs: string[] = [];
    const delivery = new Delivery({
      journal,
      transport: () => transport,
      apiKey: () => key,
      log: (level, message) => logs.push(`${level} ${message}`),
    });
    try {
      delivery.kick();
      await eventually("the pause", () => delivery.state().paused === "unauthorized", Boolean);
      assert.equal(server.count(401), 1, "one refused request, then nothing");
      assert.equal(journal.pendingCount, 3);
      assert.ok(logs.some((l) => l.startsWith("error") && l.includes("wron…cdef")));
      assert.ok(!logs.some((l) => l.includes(key)));
      key = DEFAULT_API_KEY;
      delivery.resume();
      await eventually("the journal to drain", () => journal.pendingCount === 0, Boolean);
      assert.equal(server.stored().length, 3);
      const { entries } = await readJournal(journal.path);
      assert.deepEqual(entries.map((e) => e.status), [2, 1, 1]);
    } finally {
      await delivery.stop();
      transport.close();
      await journal.close();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
