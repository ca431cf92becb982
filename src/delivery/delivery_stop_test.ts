import assert from "node:assert/strict";
import { systemClock } from "../clock.ts";
import { BACKOFF_CAP_MS } from "./deferred_events.ts";
import { Delivery, SHUTDOWN_GRACE_MS } from "./delivery.ts";
import type { HttpResponse } from "../net/transport.ts";
import { TransportError } from "../net/transport_error.ts";
import {
  API_KEY,
  created,
  event,
  MemoryJournal,
  response,
  ScriptedTransport,
  setup,
  T0,
  until,
  virtualClock,
} from "../../tests/support/delivery_double.ts";

Deno.test("delivery survives exceptions from the journal and the transport", async () => {
  const { journal, transport, delivery, logs, clock } = setup([event(1), event(2)]);
  journal.failPending = 1;
  journal.failSetStatus = 1;
  transport.script = [
    new TypeError("something unexpected"),
    created(),
    response(200, { message: "Event already recorded", status: "success" }),
  ];
  delivery.kick();
  await until(() => journal.pending().length === 0);
  assert.deepEqual(journal.statuses(), [2, 1]);
  assert.equal(transport.requests.length, 4);
  assert.equal(clock.sleeps.length, 3, "each failure backs off");
  const warnings = logs.filter(([level]) => level === "warn").map(([, m]) => m);
  assert.match(warnings[0], /cannot read the pending events: EBUSY/);
  assert.match(warnings[1], /cannot send to the server: something unexpected/);
  assert.match(warnings[2], /cannot record the answer for .* in event_log.csv: ENOSPC/);
  await delivery.stop();
});

Deno.test("delivery survives a transport factory that throws", async () => {
  const clock = virtualClock();
  const journal = new MemoryJournal([event(1)]);
  const transport = new ScriptedTransport();
  let calls = 0;
  const logs: string[] = [];
  const delivery = new Delivery({
    journal,
    transport: () => {
      if (calls++ === 0) throw new TypeError('Invalid server_url "x"');
      return transport;
    },
    apiKey: () => API_KEY,
    clock,
    log: (_level, message) => logs.push(message),
  });
  delivery.kick();
  await until(() => journal.pending().length === 0);
  assert.match(logs[0], /Invalid server_url/);
  await delivery.stop();
});

Deno.test("resume() ends a backoff wait and sends at once", async () => {
  const { journal, transport, delivery, clock } = setup([event(1)]);
  clock.autoSleep = false;
  transport.script = [{ status: 502, headers: {}, body: "Bad Gateway" }];
  delivery.kick();
  await until(() => clock.waiting === 1, "the backoff wait");
  const next = delivery.state().nextAttemptAt;
  assert.ok(next !== undefined && next > clock.wallNow());
  delivery.resume();
  await until(() => journal.pending().length === 0);
  assert.equal(clock.wallNow(), T0, "no time passed");
  assert.equal(delivery.state().nextAttemptAt, undefined);
  await delivery.stop();
});

Deno.test("stop() during a wait returns at once and sends nothing more", async () => {
  const { journal, transport, delivery, clock } = setup([event(1), event(2)]);
  clock.autoSleep = false;
  transport.script = [new TransportError("timeout", "No answer within 15 s")];
  delivery.kick();
  await until(() => clock.waiting === 1, "the backoff wait");
  await delivery.stop();
  assert.equal(clock.waiting, 0, "the wait was aborted");
  clock.advanceSync(BACKOFF_CAP_MS);
  delivery.kick();
  delivery.resume();
  await systemClock.sleep(5);
  assert.equal(transport.requests.length, 1);
  assert.deepEqual(journal.statuses(), [0, 0]);
  await delivery.stop();
});

Deno.test("stop() lets the request in flight and its status write finish", async () => {
  const { journal, transport, delivery } = setup([event(1), event(2)]);
  let answer!: () => void;
  transport.script = [() =>
    new Promise<HttpResponse>((resolve) => {
      answer = () => resolve(created());
    })];
  delivery.kick();
  await until(() => transport.requests.length === 1);
  const stopped = delivery.stop();
  let done = false;
  stopped.then(() => done = true);
  await systemClock.sleep(5);
  assert.equal(done, false, "stop waits for the answer");
  answer();
  await stopped;
  assert.deepEqual(journal.statuses(), [1, 0], "the answer was recorded, nothing more sent");
  assert.equal(transport.requests.length, 1);
});

Deno.test("stop() gives up on a request that never answers after the grace period", async () => {
  const { journal, transport, delivery, clock } = setup([event(1)]);
  transport.script = [() => new Promise<HttpResponse>(() => {})];
  delivery.kick();
  await until(() => transport.requests.length === 1);
  let done = false;
  const stopped = delivery.stop().then(() => done = true);
  await systemClock.sleep(5);
  assert.equal(done, false, "stop waits for the answer");
  clock.advanceSync(4_999);
  await systemClock.sleep(5);
  assert.equal(done, false, "for up to 5 s");
  clock.advanceSync(1);
  await stopped;
  assert.deepEqual(journal.statuses(), [0], "the event stays pending");
});

Deno.test("a shutdown's stop marks what the server answers within its short grace", async () => {
  const { journal, transport, delivery, logs } = setup([event(1), event(2)]);
  let answer!: () => void;
  transport.script = [
    () => new Promise<HttpResponse>((resolve) => answer = () => resolve(created())),
  ];
  delivery.kick();
  await until(() => transport.requests.length === 1);
  const stopped = delivery.stop(SHUTDOWN_GRACE_MS);
  answer();
  await stopped;
  assert.deepEqual(journal.statuses(), [1, 0], "stored, so marked sent: not resent next run");
  assert.equal(transport.requests.length, 1, "nothing more sent");
  assert.ok(!logs.some(([, m]) => /Stopping without the answer/.test(m)));
});

Deno.test("a shutdown's stop gives a stalled request no more than its grace", async () => {
  const { journal, transport, delivery, clock, logs } = setup([event(1)]);
  transport.script = [() => new Promise<HttpResponse>(() => {})];
  delivery.kick();
  await until(() => transport.requests.length === 1);
  let done = false;
  const stopped = delivery.stop(SHUTDOWN_GRACE_MS).then(() => done = true);
  clock.advanceSync(SHUTDOWN_GRACE_MS - 1);
  await systemClock.sleep(5);
  assert.equal(done, false, "the request on the wire gets its moment");
  clock.advanceSync(1);
  await stopped;
  assert.deepEqual(journal.statuses(), [0], "the event stays pending, sent after the restart");
  assert.match(
    logs.at(-1)![1],
    /Stopping without the answer to Logoff of josh .*: it stays pending and is sent again/,
  );
});
