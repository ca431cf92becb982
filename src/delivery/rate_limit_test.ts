import assert from "node:assert/strict";
import {
  announcedBudget,
  type AnswerTiming,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RATE_WINDOW_MS,
  MAX_RATE_LIMIT_WAIT_MS,
  MIN_RATE_LIMIT_WAIT_MS,
  rateLimitResetWait,
  RatePacer,
  RESET_MARGIN_MS,
  WINDOW_END_MARGIN_MS,
} from "./rate_limit.ts";
import type { HttpResponse } from "../net/transport.ts";

const WALL = Date.UTC(2025, 3, 27, 7, 0, 0);

function tooMany(
  headers: Record<string, string>,
  message = "Rate limit of 20 requests per 10 seconds exceeded",
): HttpResponse {
  return { status: 429, headers, body: JSON.stringify({ error: "Too many requests", message }) };
}

function at(sentAt: number, receivedAt: number, wallNow = WALL): AnswerTiming {
  return { sentAt, receivedAt, wallNow };
}

Deno.test("rateLimitResetWait reads the reset against the server's Date, bounded", () => {
  const serverNow = WALL - 3_600_000; // an hour behind: only the server's clock counts
  const date = new Date(serverNow).toUTCString();
  assert.equal(
    rateLimitResetWait(tooMany({ date, "x-ratelimit-reset": String(serverNow / 1000 + 42) }), WALL),
    42_000 + RESET_MARGIN_MS,
  );
  assert.equal(
    rateLimitResetWait(tooMany({ "x-ratelimit-reset": String(WALL / 1000 + 10) }), WALL),
    11_000,
  );
  assert.equal(rateLimitResetWait(tooMany({ "retry-after": "7" }), WALL), 7000);
  assert.equal(rateLimitResetWait(tooMany({}), WALL), undefined);
  assert.equal(
    rateLimitResetWait(tooMany({ "x-ratelimit-reset": String(WALL / 1000 + 1e9) }), WALL),
    MAX_RATE_LIMIT_WAIT_MS,
  );
  assert.equal(
    rateLimitResetWait(tooMany({ "x-ratelimit-reset": String(WALL / 1000 - 100) }), WALL),
    0,
  );
});

Deno.test("announcedBudget reads the limit header and the window from the 429's words", () => {
  assert.deepEqual(announcedBudget(tooMany({ "x-ratelimit-limit": "20" })), {
    limit: 20,
    windowMs: 10_000,
  });
  assert.deepEqual(
    announcedBudget(tooMany({}, "Rate limit of 1 requests per 0.3 seconds exceeded")),
    { limit: undefined, windowMs: 300 },
  );
  assert.deepEqual(announcedBudget({ status: 429, headers: {}, body: "<html>" }), {
    limit: undefined,
    windowMs: undefined,
  });
});

Deno.test("RatePacer assumes the default budget and holds the request after it until the window ends", () => {
  const pacer = new RatePacer();
  assert.deepEqual(pacer.budget, { limit: DEFAULT_RATE_LIMIT, windowMs: DEFAULT_RATE_WINDOW_MS });
  let now = 1_000;
  for (let i = 0; i < DEFAULT_RATE_LIMIT; i++) {
    assert.equal(pacer.sending(now), 0, `request ${i + 1} goes`);
    now += 10;
    pacer.answered(now); // the first answer fixes the window's end
  }
  const firstAnswer = 1_010;
  const wait = pacer.sending(now);
  assert.equal(wait, firstAnswer + DEFAULT_RATE_WINDOW_MS + WINDOW_END_MARGIN_MS - now);
  now += wait;
  assert.equal(pacer.sending(now), 0, "a new window");
});

Deno.test("RatePacer waits out the moment the server's window may or may not have ended", () => {
  const pacer = new RatePacer();
  assert.equal(pacer.sending(0), 0);
  pacer.answered(500); // a slow answer: the server's window began between 0 and 500
  const wait = pacer.sending(DEFAULT_RATE_WINDOW_MS + 100);
  assert.equal(
    wait,
    500 + DEFAULT_RATE_WINDOW_MS + WINDOW_END_MARGIN_MS - (DEFAULT_RATE_WINDOW_MS + 100),
  );
});

Deno.test("RatePacer learns the budget from a 429 and uses its own window end when it agrees", () => {
  const pacer = new RatePacer();
  let now = 0;
  for (let i = 0; i < 20; i++) {
    assert.equal(pacer.sending(now), 0);
    pacer.answered(now + 5);
    now += 100;
  }
  assert.equal(pacer.sending(now), 0, "the 21st goes: the default allows it");
  // The server's window: 10 s from ~5 ms; reset floored to the second.
  const wallNow = WALL + now;
  const reset = Math.floor((WALL + 5 + 10_000) / 1000);
  const lesson = pacer.limited(
    tooMany({ "x-ratelimit-limit": "20", "x-ratelimit-reset": String(reset) }),
    at(now, now + 5, wallNow),
  );
  assert.equal(lesson.announced, true);
  assert.deepEqual([lesson.limit, lesson.windowMs], [20, 10_000]);
  assert.ok(lesson.waitMs >= MIN_RATE_LIMIT_WAIT_MS);
  assert.deepEqual(pacer.budget, { limit: 20, windowMs: 10_000 });
  const resumeAt = now + 5 + lesson.waitMs;
  assert.equal(pacer.sending(resumeAt - 1), 1, "held until the window ends");
  now = resumeAt;
  for (let i = 0; i < 20; i++) {
    assert.equal(pacer.sending(now), 0, `learned budget: request ${i + 1}`);
    pacer.answered(now + 5);
  }
  assert.equal(pacer.sending(now), 5 + 10_000 + WINDOW_END_MARGIN_MS, "the 21st waits a window");
});

Deno.test("RatePacer learns nothing from a bare 429 and holds nothing (the caller backs off)", () => {
  const pacer = new RatePacer();
  assert.equal(pacer.sending(0), 0);
  const lesson = pacer.limited(tooMany({}, "slow down"), at(0, 5));
  assert.equal(lesson.announced, false);
  assert.deepEqual(pacer.budget, { limit: DEFAULT_RATE_LIMIT, windowMs: DEFAULT_RATE_WINDOW_MS });
  assert.equal(pacer.until(5), undefined);
});

Deno.test("a request that never left opens no window and is not counted", () => {
  const pacer = new RatePacer({ limit: 2, windowMs: 10_000 });
  assert.equal(pacer.sending(0), 0);
  pacer.unsent(); // refused: the server never saw it
  assert.equal(pacer.sending(5_000), 0, "the window opens here, with the first answered one");
  pacer.answered(5_100);
  assert.equal(pacer.sending(6_000), 0);
  pacer.answered(6_100);
  assert.equal(pacer.sending(10_100), 5_100 + 10_000 + WINDOW_END_MARGIN_MS - 10_100);
});
