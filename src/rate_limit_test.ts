import assert from "node:assert/strict";
import {
  type AnswerTiming,
  MAX_RATE_LIMIT_WAIT_MS,
  rateLimitResetWait,
  RatePacer,
  RateWindowEstimator,
  RESET_MARGIN_MS,
  WINDOW_END_MARGIN_MS,
} from "./rate_limit.ts";
import type { HttpResponse } from "./transport.ts";

function rateHeaders(limit: number, remaining: number, resetSeconds: number): HttpResponse {
  return {
    status: 201,
    headers: {
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(remaining),
      "x-ratelimit-reset": String(resetSeconds),
    },
    body: "{}",
  };
}

/** A request sent at `sentAt` and answered at `receivedAt`, with a wall clock that agrees. */
function at(sentAt: number, receivedAt: number): AnswerTiming {
  return { sentAt, receivedAt, wallNow: receivedAt };
}

Deno.test("RateWindowEstimator learns a whole-second window and is never early when the clocks agree", () => {
  for (const W of [2000, 5000, 60_000]) {
    const estimator = new RateWindowEstimator();
    // Windows starting at different fractions of a second, including just after a whole one.
    for (const start of [10_250, 15_050, 21_999, 26_480, 31_001, 37_010]) {
      const counted = start + 3; // the server counted the request 3 ms after we sent it
      const trueEnd = counted + W;
      estimator.observe(rateHeaders(60, 59, Math.floor(trueEnd / 1000)), at(start, start + 6));
      const end = estimator.windowEnd();
      assert.ok(end !== undefined, `no estimate for W=${W} at ${start}`);
      assert.ok(end >= trueEnd, `W=${W}: estimated ${end}, before the true end ${trueEnd}`);
      assert.ok(end - trueEnd <= 60, `W=${W}: ${end - trueEnd} ms late`);
    }
    assert.equal(estimator.windowLength(), W);
  }
});

Deno.test("RateWindowEstimator ignores later requests of a window and stops after a 429", () => {
  const estimator = new RateWindowEstimator();
  estimator.observe(rateHeaders(60, 12, 100), at(1000, 1010));
  assert.equal(
    estimator.windowEnd(),
    undefined,
    "only a window's first request says when it began",
  );
  estimator.observe(rateHeaders(60, 59, 15), at(10_300, 10_305));
  assert.ok(estimator.windowEnd() !== undefined);
  estimator.distrust();
  assert.equal(estimator.windowEnd(), undefined);
});

Deno.test("RateWindowEstimator reads the reset by the wall clock and keeps the end monotonic", () => {
  // The monotonic clock counts from process start; the wall clock from the epoch.
  const wallAtZero = Date.UTC(2025, 3, 27, 7, 0, 0);
  const estimator = new RateWindowEstimator();
  for (const start of [10_250, 15_050, 21_999]) {
    const trueEnd = start + 3 + 5000; // monotonic
    const reset = Math.floor((wallAtZero + trueEnd) / 1000);
    estimator.observe(rateHeaders(60, 59, reset), {
      sentAt: start,
      receivedAt: start + 6,
      wallNow: wallAtZero + start + 6,
    });
  }
  assert.equal(estimator.windowLength(), 5000);
  assert.equal(estimator.windowEnd(), 21_999 + 6 + 5000 + WINDOW_END_MARGIN_MS);
});

Deno.test("rateLimitResetWait turns the headers into a bounded wait", async (t) => {
  const now = Date.UTC(2025, 3, 27, 7, 0, 0);
  await t.step("Retry-After as an HTTP date, against the server's Date", () => {
    const answer = {
      status: 429,
      headers: {
        "date": new Date(now - 60_000).toUTCString(),
        "retry-after": new Date(now - 60_000 + 9_000).toUTCString(),
      },
      body: "",
    };
    assert.equal(rateLimitResetWait(answer, now), 9_000 + RESET_MARGIN_MS);
  });
  await t.step("an absurd reset is capped", () => {
    const answer = rateHeaders(60, 0, now / 1000 + 86_400);
    assert.equal(rateLimitResetWait(answer, now), MAX_RATE_LIMIT_WAIT_MS);
  });
  await t.step("no hint at all", () => {
    assert.equal(rateLimitResetWait({ status: 429, headers: {}, body: "" }, now), undefined);
  });
});

Deno.test("RatePacer holds requests when the budget is spent, never longer than the safe rule", () => {
  const wall = Date.UTC(2025, 3, 27, 7, 0, 0);
  const pacer = new RatePacer();
  // Budget left: no hold. The window's first request, counted at 1503, ends it at 6503.
  const first = { sentAt: 1500, receivedAt: 1510, wallNow: wall + 1510 };
  assert.equal(pacer.observe(rateHeaders(60, 59, wall / 1000 + 6), first), undefined);
  assert.equal(pacer.until, undefined);
  // Budget spent: the learned end (first answer + 5 s) comes before reset + margin (7000).
  const last = { sentAt: 3000, receivedAt: 3010, wallNow: wall + 3010 };
  const wait = pacer.observe(rateHeaders(60, 0, wall / 1000 + 6), last);
  assert.equal(pacer.until, 1510 + 5000 + WINDOW_END_MARGIN_MS);
  assert.equal(wait, pacer.until! - 3010);
  // A 429 turns the estimate off and holds for its wait.
  pacer.limited(4000, 30_000);
  assert.equal(pacer.until, 34_000);
  const after = { sentAt: 40_000, receivedAt: 40_010, wallNow: wall + 40_010 };
  pacer.observe(rateHeaders(60, 59, wall / 1000 + 45), after);
  const spent = { sentAt: 41_000, receivedAt: 41_010, wallNow: wall + 41_010 };
  assert.equal(
    pacer.observe(rateHeaders(60, 0, wall / 1000 + 45), spent),
    45_000 - 41_010 + RESET_MARGIN_MS,
    "the safe rule: reset + margin",
  );
});
