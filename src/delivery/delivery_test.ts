import assert from "node:assert/strict";
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, OUTAGE_BACKOFF_CAP_MS } from "./deferred_events.ts";
import type { DeliveryState } from "./types.ts";
import { eventKey } from "../event.ts";
import { TransportError } from "../net/transport_error.ts";
import {
  API_KEY,
  assertNoKeyIn,
  created,
  event,
  response,
  setup,
  T0,
  until,
} from "../../tests/support/delivery_double.ts";

Deno.test("delivery sends pending events oldest first and marks them status 1", async () => {
  const events = [event(1), event(2), event(3)];
  const { journal, transport, delivery, logs, clock } = setup(events, { publicIp: "203.0.113.7" });
  delivery.kick();
  await until(() => journal.pending().length === 0);
  assert.deepEqual(journal.statuses(), [1, 1, 1]);
  assert.deepEqual(transport.requests.map((r) => r.body.Timestamp), events.map((e) => e.timestamp));
  for (const request of transport.requests) {
    assert.equal(request.path, "/api/log_event");
    assert.equal(request.body.retry, 0);
    assert.equal(request.body.PublicIP, "203.0.113.7");
    assert.equal(request.headers["X-API-Key"], API_KEY);
    assert.equal(request.headers["Content-Type"], "application/json");
  }
  assert.deepEqual(clock.sleeps, [], "no wait when nothing failed");
  const state = delivery.state();
  assert.equal(state.sent, 3);
  assert.equal(state.lastSentAt, T0);
  assert.equal(state.paused, null);
  assertNoKeyIn(logs);
  await delivery.stop();
});

Deno.test("delivery picks up events added while it drains and after it went idle", async () => {
  const { journal, transport, delivery } = setup([event(1)]);
  transport.script = [() => {
    journal.add(event(2));
    return created();
  }];
  delivery.kick();
  await until(() => transport.requests.length === 2 && journal.pending().length === 0);
  journal.add(event(3));
  delivery.kick();
  delivery.kick();
  await until(() => journal.pending().length === 0);
  assert.equal(transport.requests.length, 3, "each event sent once");
  assert.deepEqual(journal.statuses(), [1, 1, 1]);
  await delivery.stop();
});

Deno.test("'already recorded' to an event's first sending is warned about; to a retry it is not", async () => {
  const fresh = setup([event(1)]);
  fresh.transport.script = [
    response(200, { message: "Event already recorded", status: "success" }),
  ];
  fresh.delivery.kick();
  await until(() => fresh.journal.pending().length === 0);
  const warned = fresh.logs.filter(([level]) => level === "warn").map(([, m]) => m);
  assert.equal(warned.length, 1);
  assert.match(warned[0], /answered "Event already recorded" to the first sending of Logoff/);
  assert.match(warned[0], /fall-back hour/);
  await fresh.delivery.stop();

  const recovered = setup([event(1)], { recovered: true });
  recovered.transport.script = [
    response(200, { message: "Event already recorded", status: "success" }),
  ];
  recovered.delivery.kick();
  await until(() => recovered.journal.pending().length === 0);
  assert.equal(recovered.logs.filter(([level]) => level === "warn").length, 0);
  await recovered.delivery.stop();
});

Deno.test("delivery marks recovered entries as retries: retry 1 and status 2", async () => {
  const { journal, transport, delivery } = setup([event(1), event(2)], { recovered: true });
  transport.script = [
    created(),
    response(200, { message: "Event already recorded", status: "success" }),
  ];
  delivery.kick();
  await until(() => journal.pending().length === 0);
  assert.deepEqual(transport.requests.map((r) => r.body.retry), [1, 1]);
  assert.deepEqual(journal.statuses(), [2, 2]);
  assert.equal(delivery.state().sent, 2, "a duplicate counts as sent");
  await delivery.stop();
});

Deno.test("a failed event waits on its own backoff while the next goes on, then is resent alike", async () => {
  const { journal, transport, delivery, clock, logs } = setup([event(1), event(2)]);
  transport.script = [
    response(500, { message: "Failed to log event: surrogates not allowed", status: "error" }),
  ];
  clock.randoms = [0.5];
  delivery.kick();
  await until(() => journal.pending().length === 0);
  const bodies = transport.requests.map((r) => r.body);
  assert.deepEqual(bodies.map((b) => b.Timestamp), [
    event(1).timestamp,
    event(2).timestamp,
    event(1).timestamp,
  ], "the second event did not wait for the first");
  assert.deepEqual(bodies.map((b) => b.retry), [0, 0, 1]);
  assert.deepEqual({ ...bodies[0], retry: 1 }, bodies[2], "the retry resends the same values");
  assert.deepEqual(journal.statuses(), [2, 1]);
  assert.deepEqual(clock.sleeps, [0.5 * BACKOFF_BASE_MS], "only the failed event waited");
  const warning = logs.find(([level]) => level === "warn")![1];
  assert.match(warning, /Logoff of josh at .* not sent: the server answered 500: Failed/);
  assert.match(warning, /tried again in 1\.0 s, the others go on/);
  await delivery.stop();
});

Deno.test("events behind a held one are found without going over the whole backlog", async () => {
  const behind = 2_000;
  const poison = event(0, { computerName: "X".repeat(60) });
  const events = [poison, ...Array.from({ length: behind }, (_, i) => event(i + 1))];
  const { journal, transport, delivery } = setup(events);
  // Entries the journal makes for delivery, whichever way delivery asks for them.
  let made = 0;
  const walk = journal.pendingEntries.bind(journal);
  journal.pendingEntries = function* () {
    for (const entry of walk()) {
      made++;
      yield entry;
    }
  };
  const list = journal.pending.bind(journal);
  journal.pending = () => {
    const entries = list();
    made += entries.length;
    return entries;
  };
  // The server fails the first event until every other one is stored.
  const others = () => journal.statuses().slice(1).every((status) => status !== 0);
  transport.script = [];
  const post = transport.post.bind(transport);
  transport.post = (path, body, headers) => {
    if (body?.includes("X".repeat(60)) && !others()) {
      transport.script.unshift(response(500, { message: "Failed to log event", status: "error" }));
    }
    return post(path, body, headers);
  };
  delivery.kick();
  await until(() => journal.statuses().every((status) => status !== 0), "every event stored");
  await delivery.stop();
  const requests = transport.requests.length;
  assert.ok(made <= 3 * requests, `${made} entries made for ${requests} requests`);
});

Deno.test("failures of different events in a row back all of delivery off", async () => {
  const { journal, transport, delivery, clock, logs } = setup([event(1), event(2)]);
  transport.script = [
    response(500, { message: "Failed to log event: db down", status: "error" }),
    new TransportError("network", "Cannot reach https://192.168.27.1:8000: ECONNRESET"),
  ];
  clock.randoms = [0.5, 0.25];
  delivery.kick();
  await until(() => journal.pending().length === 0);
  assert.equal(transport.requests.length, 4);
  // The second failure in a row (another event) is the server's: a backoff of all of
  // delivery, attempt 2 (random x 4 s).
  assert.equal(clock.sleeps[0], 0.25 * 2 * BACKOFF_BASE_MS);
  const warnings = logs.filter(([level]) => level === "warn").map(([, m]) => m);
  assert.match(warnings[1], /ECONNRESET; attempt 2 failed, next in 1\.0 s/);
  await delivery.stop();
});

Deno.test("delivery backoff grows exponentially up to the cap, with full jitter", async () => {
  const { transport, delivery, clock } = setup([event(1)]);
  const failures = 14;
  transport.script = Array.from({ length: failures }, () => ({
    status: 503,
    headers: {},
    body: "",
  }));
  clock.randoms = Array.from({ length: 2 * failures }, () => 0.999999);
  delivery.kick();
  await until(() => transport.requests.length === failures + 1);
  await delivery.stop();
  const longest = Math.max(...clock.sleeps);
  assert.ok(clock.sleeps.every((slept) => slept >= 0 && slept < BACKOFF_CAP_MS));
  assert.equal(longest, Math.floor(0.999999 * BACKOFF_CAP_MS), "capped at 5 min");
  // Before the cap, each failure's wait doubles.
  const total = clock.sleeps.reduce((a, b) => a + b, 0);
  assert.ok(total > 2 * BACKOFF_CAP_MS, `total ${total}`);
});

Deno.test("while no connection can be made, retries stay within the outage cap", async () => {
  const { transport, delivery, clock } = setup([event(1)]);
  const failures = 14;
  transport.script = Array.from(
    { length: failures },
    () =>
      new TransportError("network", "Cannot reach https://192.168.27.1:8000: ECONNREFUSED", {
        stage: "connect",
      }),
  );
  clock.randoms = Array.from({ length: 2 * failures }, () => 0.999999);
  delivery.kick();
  await until(() => transport.requests.length === failures + 1);
  await delivery.stop();
  assert.equal(Math.max(...clock.sleeps), Math.floor(0.999999 * OUTAGE_BACKOFF_CAP_MS));
});

Deno.test("delivery never logs the API key, even when the server echoes it", async () => {
  const { journal, transport, delivery, logs } = setup([event(1), event(2), event(3)]);
  transport.script = [
    response(400, { message: `bad request from key ${API_KEY}` }),
    response(500, { message: `boom ${API_KEY}` }),
    response(401, { message: `Invalid API key ${API_KEY}` }),
  ];
  delivery.kick();
  await until(() => delivery.state().paused === "unauthorized");
  assert.equal(journal.statuses()[0], 0, "a 400 is settled only once another event is accepted");
  assert.ok(logs.length >= 2);
  assertNoKeyIn(logs);
  assert.ok(!JSON.stringify(delivery.state()).includes(API_KEY));
  await delivery.stop();
});

Deno.test("delivery's state names the event it retries, its attempts and last error", async () => {
  const { journal, transport, delivery } = setup([event(1)]);
  let during: DeliveryState["sending"];
  transport.script = [
    response(500, { message: "Failed to log event: db" }),
    () => {
      during = delivery.state().sending; // the second attempt is in flight
      return created();
    },
  ];
  assert.equal(delivery.state().sending, undefined, "nothing tried yet");
  delivery.kick();
  await until(() => journal.pending().length === 0);
  assert.equal(during?.key, eventKey(event(1)));
  assert.equal(during?.attempts, 2);
  assert.match(during!.lastError!, /not sent: the server answered 500: Failed to log event: db/);
  assert.equal(delivery.state().sending, undefined, "sent events are not being retried");
  await delivery.stop();
});

Deno.test("a new event does not wait for a held one's backoff", async () => {
  const { journal, transport, delivery, clock } = setup([event(1)]);
  clock.autoSleep = false;
  transport.script = [response(500, { message: "Failed to log event: x", status: "error" })];
  delivery.kick();
  await until(() => clock.waiting === 1, "the held event's wait");
  journal.add(event(2));
  delivery.kick();
  await until(() => journal.statuses()[1] === 1);
  assert.deepEqual(journal.statuses(), [0, 1], "sent while the other still waits");
  assert.equal(clock.wallNow(), T0, "no time passed");
  await delivery.stop();
});
