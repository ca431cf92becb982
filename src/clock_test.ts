import assert from "node:assert/strict";
import { clampDelay, type Clock, MAX_TIMER_MS, sleepUntil, systemClock } from "./clock.ts";

Deno.test("clampDelay keeps a delay within what a timer accepts", () => {
  assert.equal(clampDelay(-5), 0);
  assert.equal(clampDelay(Number.NaN), 0);
  assert.equal(clampDelay(1.2), 2);
  assert.equal(clampDelay(30 * 86_400_000), MAX_TIMER_MS);
});

Deno.test("systemClock sleeps, and returns early when its signal aborts", async () => {
  const controller = new AbortController();
  const slept = systemClock.sleep(60_000, controller.signal);
  controller.abort();
  await slept;
  const t0 = systemClock.monotonic();
  await systemClock.sleep(5);
  assert.ok(systemClock.monotonic() >= t0);
});

Deno.test("sleepUntil splits a wait longer than a timer allows into clamped sleeps", async () => {
  let now = 0;
  const asked: number[] = [];
  const clock: Clock = {
    ...systemClock,
    monotonic: () => now,
    sleep: (ms) => {
      asked.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
  await sleepUntil(clock, MAX_TIMER_MS * 2 + 10);
  assert.deepEqual(asked, [MAX_TIMER_MS, MAX_TIMER_MS, 10]);
});
