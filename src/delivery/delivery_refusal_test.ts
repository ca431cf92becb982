import assert from "node:assert/strict";
import { systemClock } from "../clock.ts";
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS } from "./deferred_events.ts";
import {
  assertNoKeyIn,
  event,
  response,
  setup,
  until,
} from "../../tests/support/delivery_double.ts";

Deno.test("delivery marks a refused event status 3, logs the reason and goes on", async () => {
  const { journal, transport, delivery, logs } = setup([event(1), event(2)]);
  transport.script = [
    response(400, { message: "Could not parse timestamp: 2025-04-27T08:00:01.5Z" }),
  ];
  delivery.kick();
  await until(() => journal.pending().length === 0);
  assert.deepEqual(journal.statuses(), [3, 1]);
  const errors = logs.filter(([level]) => level === "error").map(([, m]) => m);
  assert.equal(errors.length, 1);
  assert.match(
    errors[0],
    /refused Logoff of josh at 2025-04-27T08:00:01\+01:00 for good \(400\): Could not parse timestamp/,
  );
  const state = delivery.state();
  assert.equal(state.rejected, 1);
  assert.equal(state.sent, 1);
  assert.equal(state.lastError?.message, errors[0]);
  await delivery.stop();
});

Deno.test("delivery pauses on 401 until resumed, with the key masked", async () => {
  const { journal, transport, delivery, logs } = setup([event(1), event(2)]);
  transport.script = [response(401, { message: "Invalid API key" })];
  delivery.kick();
  await until(() => delivery.state().paused === "unauthorized");
  assert.equal(transport.requests.length, 1);
  delivery.kick();
  await systemClock.sleep(5);
  assert.equal(transport.requests.length, 1, "kick does not lift the pause");
  assert.deepEqual(journal.statuses(), [0, 0], "the events stay pending");
  const error = logs.find(([level]) => level === "error")![1];
  assert.match(error, /The server rejected the API key 4795…beef \(Invalid API key\)/);
  assert.match(error, /2 events wait; set the right key with winagentUSM\.exe --api-key/);
  delivery.resume();
  await until(() => journal.pending().length === 0);
  assert.deepEqual(journal.statuses(), [2, 1], "the refused attempt makes the first a retry");
  assert.equal(delivery.state().paused, null);
  assertNoKeyIn(logs);
  await delivery.stop();
});

Deno.test("delivery pauses on 404 and says to check server_url", async () => {
  const { journal, transport, delivery, logs } = setup([event(1)]);
  transport.script = [{ status: 404, headers: {}, body: "Not Found" }];
  delivery.kick();
  await until(() => delivery.state().paused === "misconfigured");
  const error = logs.find(([level]) => level === "error")![1];
  assert.match(error, /https:\/\/192\.168\.27\.1:8000\/api\/log_event answered 404/);
  assert.match(error, /check server_url/);
  delivery.resume();
  await until(() => journal.pending().length === 0);
  assert.equal(transport.requests.length, 2);
  await delivery.stop();
});

Deno.test("delivery paused as not configured sends nothing until resumed", async () => {
  const { journal, transport, delivery } = setup([event(1)]);
  delivery.pause("not-configured");
  delivery.kick();
  await systemClock.sleep(5);
  assert.equal(transport.requests.length, 0);
  assert.equal(delivery.state().paused, "not-configured");
  delivery.resume();
  await until(() => journal.pending().length === 0);
  await delivery.stop();
});

Deno.test("the same 4xx for two different events pauses sending and settles neither", async () => {
  const { journal, transport, delivery, logs } = setup([event(1), event(2), event(3)]);
  const html = { status: 400, headers: {}, body: "<html><h1>400 Bad Request</h1></html>" };
  transport.script = [html, html];
  delivery.kick();
  await until(() => delivery.state().paused === "refusing");
  assert.deepEqual(journal.statuses(), [0, 0, 0], "nothing refused for good");
  const error = logs.find(([level]) => level === "error")![1];
  assert.match(error, /answered 400 to two different events/);
  assert.match(error, /the setup, not the events, is at fault/);
  assert.equal(delivery.state().rejected, 0);
  await delivery.stop();
});

Deno.test("a 4xx while the health check fails pauses instead of refusing", async () => {
  const { journal, transport, delivery, logs } = setup([event(1)], { healthy: () => false });
  transport.script = [{ status: 431, headers: {}, body: "Request Header Fields Too Large" }];
  delivery.kick();
  await until(() => delivery.state().paused === "refusing");
  assert.deepEqual(journal.statuses(), [0]);
  assert.match(logs.find(([level]) => level === "error")![1], /while its health check fails/);
  await delivery.stop();
});

Deno.test("a lone 4xx event stays pending on its own backoff until another event is accepted", async () => {
  const { journal, transport, delivery, clock, logs } = setup([event(1)]);
  clock.autoSleep = false;
  const refused = () => response(400, { message: "Could not parse timestamp: x", status: "error" });
  transport.script = [refused(), refused(), refused()];
  delivery.kick();
  for (let attempt = 1; attempt <= 3; attempt++) {
    await until(() => transport.requests.length === attempt && clock.waiting === 1, "a hold");
    assert.deepEqual(journal.statuses(), [0], "not refused on its health check alone");
    if (attempt < 3) clock.advanceSync(BACKOFF_CAP_MS);
  }
  assert.match(
    delivery.state().lastError!.message,
    /answered 400 to Logoff of josh .* while its health check passes: .*the setup, not the event, at fault .*stays pending/,
  );
  assert.ok(logs.every(([level]) => level !== "error"), "nothing refused, nothing paused");
  // Another event accepted by the same setup: the 400 concerned its own event.
  journal.add(event(2));
  delivery.kick();
  await until(() => journal.pending().length === 0);
  assert.deepEqual(journal.statuses(), [3, 1]);
  assert.equal(delivery.state().rejected, 1);
  await delivery.stop();
});

Deno.test("a 4xx is not proven by an event accepted after server_url changed", async () => {
  const { journal, transport, delivery, clock } = setup([event(1)]);
  clock.autoSleep = false;
  transport.script = [{ status: 400, headers: {}, body: "<h1>Bad Request</h1>" }];
  delivery.kick();
  await until(() => clock.waiting === 1, "the suspect's hold");
  // The administrator fixes the path prefix; the next answer comes from another setup.
  const fixed = "https://192.168.27.1:8000/winauthmon";
  transport.urlOf = (path) => fixed + path;
  journal.add(event(2));
  delivery.kick();
  await until(() => journal.statuses()[1] === 1);
  clock.advanceSync(BACKOFF_CAP_MS);
  await until(() => journal.pending().length === 0);
  assert.deepEqual(journal.statuses(), [2, 1], "the first is sent again (a retry), not refused");
  await delivery.stop();
});

Deno.test("a pause is probed again by itself, with growing backoff, until it passes", async () => {
  let probes = 0;
  let healthy = false;
  const { journal, transport, delivery, clock } = setup([event(1)], {
    probe: () => {
      probes++;
      if (healthy) delivery.resume();
    },
  });
  clock.autoSleep = false;
  transport.script = [response(401, { message: "Invalid API key" })];
  delivery.kick();
  await until(() => delivery.state().paused === "unauthorized");
  clock.advanceSync(BACKOFF_BASE_MS);
  assert.equal(probes, 1, "first probe after the base backoff");
  clock.advanceSync(BACKOFF_BASE_MS);
  assert.equal(probes, 1, "the second waits longer");
  clock.advanceSync(2 * BACKOFF_BASE_MS);
  assert.equal(probes, 2);
  healthy = true;
  clock.advanceSync(BACKOFF_CAP_MS);
  await until(() => journal.pending().length === 0);
  assert.equal(probes, 3);
  assert.equal(delivery.state().paused, null);
  await delivery.stop();
});
