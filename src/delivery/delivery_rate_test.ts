import assert from "node:assert/strict";
import { BACKOFF_BASE_MS } from "./deferred_events.ts";
import {
  DEFAULT_RATE_LIMIT,
  DEFAULT_RATE_WINDOW_MS,
  MIN_RATE_LIMIT_WAIT_MS,
  RESET_MARGIN_MS,
  WINDOW_END_MARGIN_MS,
} from "./rate_limit.ts";
import { created, event, response, setup, T0, until } from "../../tests/support/delivery_double.ts";

Deno.test("delivery paces itself by the server's default without any header: no 429", async () => {
  const events = Array.from({ length: DEFAULT_RATE_LIMIT + 1 }, (_, i) => event(i));
  const { journal, transport, delivery, clock } = setup(events);
  delivery.kick();
  await until(() => journal.pending().length === 0);
  assert.deepEqual(
    clock.sleeps,
    [DEFAULT_RATE_WINDOW_MS + WINDOW_END_MARGIN_MS],
    "one wait, before the 61st event, for the default window to end",
  );
  assert.equal(transport.requests.length, DEFAULT_RATE_LIMIT + 1);
  await delivery.stop();
});

Deno.test("a 429 teaches the limit and the window: paced by them after, no second 429", async () => {
  const events = Array.from({ length: 12 }, (_, i) => event(i));
  const { journal, transport, delivery, clock } = setup(events);
  const serverNow = T0 - 7_200_000; // the server's clock is two hours behind: only durations count
  let calls = 0;
  transport.script = Array.from({ length: 30 }, () => () => {
    calls++;
    if (calls !== 6) return created();
    return response(429, {
      error: "Too many requests",
      message: "Rate limit of 5 requests per 10 seconds exceeded",
    }, {
      "date": new Date(serverNow).toUTCString(),
      "x-ratelimit-limit": "5",
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": String(serverNow / 1000 + 8),
    });
  });
  delivery.kick();
  await until(() => journal.pending().length === 0);
  assert.equal(transport.requests.length, 13, "one 429, then every event once");
  assert.equal(clock.sleeps[0], 8_000 + RESET_MARGIN_MS, "waited for the announced reset");
  assert.equal(clock.sleeps.length, 2, "then one window of 5 more");
  assert.equal(clock.sleeps[1], 10_000 + WINDOW_END_MARGIN_MS);
  await delivery.stop();
});

Deno.test("a 429 without headers backs off, and a second 429 in a row backs off more", async () => {
  const { journal, transport, delivery, clock, logs } = setup([event(1), event(2)]);
  transport.script = [
    response(429, { error: "Too many requests" }),
    response(429, { error: "Too many requests" }, { "x-ratelimit-reset": String(T0 / 1000 - 100) }),
  ];
  clock.randoms = [0.5, 0.5];
  delivery.kick();
  await until(() => journal.pending().length === 0);
  assert.equal(clock.sleeps[0], 0.5 * BACKOFF_BASE_MS, "a bare 429: backoff, attempt 1");
  assert.ok(clock.sleeps[1] >= MIN_RATE_LIMIT_WAIT_MS, "never a tight loop");
  assert.match(
    logs.find(([level]) => level === "warn")![1],
    /429 .*without X-RateLimit-Reset: backing off/,
  );
  await delivery.stop();
});
