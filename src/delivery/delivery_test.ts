import assert from "node:assert/strict";
import { systemClock } from "../clock.ts";
import { ManualClock } from "../../tests/support/manual_clock.ts";
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, OUTAGE_BACKOFF_CAP_MS } from "./deferred_events.ts";
import { Delivery, SHUTDOWN_GRACE_MS } from "./delivery.ts";
import { classify, eventBody } from "./event_answer.ts";
import type { DeliveryJournal, DeliveryOptions, DeliveryState, PendingEntry } from "./types.ts";
import { eventKey, type SessionEvent } from "../event.ts";
import {
  DEFAULT_RATE_LIMIT,
  DEFAULT_RATE_WINDOW_MS,
  MIN_RATE_LIMIT_WAIT_MS,
  RESET_MARGIN_MS,
  WINDOW_END_MARGIN_MS,
} from "./rate_limit.ts";
import type { HttpResponse } from "../net/transport.ts";
import { TransportError } from "../net/transport_error.ts";

const API_KEY = "47959c6d0123456789abcdef0123456789abcdefdeadbeef";
const T0 = Date.UTC(2025, 3, 27, 7, 0, 0);
/** The monotonic reading at T0: it counts from an arbitrary start, not from the epoch. */
const M0 = 123_456;

function event(n: number, overrides: Partial<SessionEvent> = {}): SessionEvent {
  const second = String(n % 60).padStart(2, "0");
  const minute = String(Math.floor(n / 60) % 60).padStart(2, "0");
  return {
    eventType: n % 2 === 0 ? "Logon" : "Logoff",
    userName: "josh",
    computerName: "DESKTOP-5D51HM9",
    ipAddress: "192.168.66.34",
    timestamp: `2025-04-27T08:${minute}:${second}+01:00`,
    ...overrides,
  };
}

/**
 * Virtual time: sleeps pass at once (time jumps forward) until a test sets `autoSleep` false and
 * advances the clock itself. The wall clock starts at T0, the monotonic clock at M0, so a wall
 * reading used as a deadline (or the reverse) shows.
 */
function virtualClock(): ManualClock {
  const clock = new ManualClock(T0, M0);
  clock.autoSleep = true;
  return clock;
}

interface MemoryEntry extends PendingEntry {
  status: 0 | 1 | 2 | 3;
}

class MemoryJournal implements DeliveryJournal {
  entries: MemoryEntry[] = [];
  writes: [SessionEvent, number][] = [];
  failPending = 0;
  failSetStatus = 0;

  constructor(events: SessionEvent[] = [], recovered = false) {
    for (const e of events) this.add(e, recovered);
  }

  add(e: SessionEvent, recovered = false): void {
    this.entries.push({ event: e, recovered, status: 0 });
  }

  pending(): PendingEntry[] {
    return this.entries.filter((e) => e.status === 0);
  }

  *pendingEntries(): IterableIterator<PendingEntry> {
    for (const entry of this.entries) if (entry.status === 0) yield entry;
  }

  oldestPending(): PendingEntry | undefined {
    if (this.failPending > 0) {
      this.failPending--;
      throw new Error("EBUSY: event_log.csv is locked");
    }
    return this.entries.find((e) => e.status === 0);
  }

  get pendingCount(): number {
    return this.entries.filter((e) => e.status === 0).length;
  }

  setStatus(entry: PendingEntry, status: 1 | 2 | 3): Promise<void> {
    if (this.failSetStatus > 0) {
      this.failSetStatus--;
      return Promise.reject(new Error("ENOSPC: no space left on device"));
    }
    (entry as MemoryEntry).status = status;
    this.writes.push([entry.event, status]);
    return Promise.resolve();
  }

  statuses(): number[] {
    return this.entries.map((e) => e.status);
  }
}

type Reply =
  | HttpResponse
  | Error
  | ((body: string) => HttpResponse | Error | Promise<HttpResponse>);

/** The HTTP boundary: answers each post with the next scripted reply (default 201). */
class ScriptedTransport {
  readonly origin = "https://192.168.27.1:8000";
  urlOf(path: string): string {
    return this.origin + path;
  }
  script: Reply[] = [];
  requests: { path: string; body: Record<string, unknown>; headers: Record<string, string> }[] = [];

  async post(
    path: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<HttpResponse> {
    this.requests.push({ path, body: JSON.parse(body!), headers });
    const next = this.script.shift() ?? created();
    const reply = typeof next === "function" ? await next(body!) : next;
    if (reply instanceof Error) throw reply;
    return reply;
  }
}

function response(
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): HttpResponse {
  return { status, headers, body: JSON.stringify(body) };
}

function created(headers: Record<string, string> = {}): HttpResponse {
  return response(201, { message: "Event logged successfully", status: "success" }, headers);
}

function setup(
  events: SessionEvent[],
  options: {
    recovered?: boolean;
    publicIp?: string;
    eventPath?: string;
    healthy?: () => boolean;
    probe?: () => void;
  } = {},
) {
  const clock = virtualClock();
  const journal = new MemoryJournal(events, options.recovered);
  const transport = new ScriptedTransport();
  const logs: [string, string][] = [];
  const states: number[] = [];
  const delivery = new Delivery(
    {
      journal,
      transport: () => transport,
      apiKey: () => API_KEY,
      clock,
      publicIp: () => options.publicIp,
      log: (level, message) => logs.push([level, message]),
      onStateChange: (s) => states.push(s.sent),
      eventPath: options.eventPath,
      healthy: options.healthy,
      probe: options.probe,
    } satisfies DeliveryOptions,
  );
  return { clock, journal, transport, logs, delivery, states };
}

/** Lets the drain loop run until `condition` holds (it only awaits promises, never real time). */
async function until(condition: () => boolean, what = "condition"): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (condition()) return;
    await systemClock.sleep(0);
  }
  assert.fail(`timed out waiting for ${what}`);
}

function assertNoKeyIn(logs: [string, string][]): void {
  for (const [, message] of logs) {
    assert.ok(!message.includes(API_KEY), `log line holds the API key: ${message}`);
    assert.ok(
      !message.includes(API_KEY.slice(4, -4)),
      `log line holds part of the key: ${message}`,
    );
  }
}

Deno.test("eventBody sends the captured values in the server's field order", async (t) => {
  await t.step("without a public IP", () => {
    assert.equal(
      eventBody(event(14), { retry: false }),
      '{"EventType":"Logon","UserName":"josh","ComputerName":"DESKTOP-5D51HM9",' +
        '"LocalIP":"192.168.66.34","IPAddress":"192.168.66.34",' +
        '"Timestamp":"2025-04-27T08:00:14+01:00","retry":0}',
    );
  });
  await t.step("with a public IP, on a retry", () => {
    assert.equal(
      eventBody(event(14), { retry: true, publicIp: "203.0.113.7" }),
      '{"EventType":"Logon","UserName":"josh","ComputerName":"DESKTOP-5D51HM9",' +
        '"LocalIP":"192.168.66.34","IPAddress":"192.168.66.34","PublicIP":"203.0.113.7",' +
        '"Timestamp":"2025-04-27T08:00:14+01:00","retry":1}',
    );
  });
  await t.step("quotes awkward names as JSON", () => {
    const body = JSON.parse(eventBody(event(1, { userName: 'o"brien\\x' }), { retry: false }));
    assert.equal(body.UserName, 'o"brien\\x');
  });
});

Deno.test("classify maps every answer of the server to an outcome", async (t) => {
  const foreign = (what: string) =>
    `answered 200 with ${what}, not the server's "status":"success": the answer does not come from the expected server (a captive portal, a proxy or another web server at server_url?)`;
  const table: [string, HttpResponse, unknown][] = [
    ["201 created", created(), { kind: "sent", duplicate: false }],
    [
      "200 duplicate",
      response(200, { message: "Event already recorded", status: "success" }),
      { kind: "sent", duplicate: true },
    ],
    [
      "204 is not the server's answer",
      { status: 204, headers: {}, body: "" },
      {
        kind: "misconfigured",
        status: 204,
        reason: foreign("an empty body").replace("answered 200", "answered 204"),
      },
    ],
    [
      "200 HTML page (captive portal, the real app's error page)",
      {
        status: 200,
        headers: {},
        body: "<!DOCTYPE html><html><title>Opsiee 404 Error</title></html>",
      },
      { kind: "misconfigured", status: 200, reason: foreign('an HTML page ("Opsiee 404 Error")') },
    ],
    [
      '200 {"status":"error"}',
      response(200, { message: "Failed", status: "error" }),
      { kind: "misconfigured", status: 200, reason: foreign('"status":"error" (Failed)') },
    ],
    [
      '201 without "status":"success"',
      response(201, { message: "ok" }),
      {
        kind: "misconfigured",
        status: 201,
        reason: foreign('JSON without "status":"success" (ok)').replace(
          "answered 200",
          "answered 201",
        ),
      },
    ],
    [
      "301 with Location",
      {
        status: 301,
        headers: { location: "https://monitor.example.com:8443/api/log_event" },
        body: "",
      },
      {
        kind: "misconfigured",
        status: 301,
        reason:
          "answered 301, a redirect to https://monitor.example.com:8443/api/log_event: the agent does not follow redirects (the API key would go along); set server_url to the server's own address (winagentUSM.exe --url https://monitor.example.com:8443)",
      },
    ],
    [
      "401",
      response(401, { message: "Invalid API key" }),
      { kind: "unauthorized", message: "Invalid API key" },
    ],
    [
      "403",
      response(403, { message: "API key has been disabled" }),
      { kind: "unauthorized", message: "API key has been disabled" },
    ],
    [
      "400 bad timestamp",
      response(400, { message: "Could not parse timestamp: x", status: "error" }),
      { kind: "rejected", status: 400, reason: "Could not parse timestamp: x" },
    ],
    [
      "413 not JSON",
      { status: 413, headers: {}, body: "<h1>Request Entity Too Large</h1>" },
      { kind: "rejected", status: 413, reason: "<h1>Request Entity Too Large</h1>" },
    ],
    ["422", response(422, {}), { kind: "rejected", status: 422, reason: "{}" }],
    [
      "404",
      { status: 404, headers: {}, body: "" },
      {
        kind: "misconfigured",
        status: 404,
        reason: "answered 404 (HTTP 404): this is not the event endpoint; check server_url",
      },
    ],
    [
      "405",
      response(405, { message: "Method Not Allowed" }),
      {
        kind: "misconfigured",
        status: 405,
        reason:
          "answered 405 (Method Not Allowed): this is not the event endpoint; check server_url",
      },
    ],
    [
      "500",
      response(500, { message: "Failed to log event: db", status: "error" }),
      { kind: "retryable", reason: "the server answered 500: Failed to log event: db" },
    ],
    [
      "503",
      { status: 503, headers: {}, body: "Service Unavailable" },
      { kind: "retryable", reason: "the server answered 503: Service Unavailable" },
    ],
    [
      "408",
      { status: 408, headers: {}, body: "" },
      { kind: "retryable", reason: "the server answered 408: HTTP 408" },
    ],
    ["429", response(429, { error: "Too many requests" }), { kind: "rate-limited" }],
  ];
  for (const [name, answer, expected] of table) {
    await t.step(name, () => assert.deepEqual(classify(answer), expected));
  }
});

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
