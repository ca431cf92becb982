import assert from "node:assert/strict";
import type { HealthResult } from "../delivery/health.ts";
import { EVENT_IDS } from "../log/app_event_log.ts";
import { MemoryEventLog } from "../../tests/support/memory_app_event_log.ts";
import { SystemEvents } from "../log/system_events.ts";
import { ManualClock } from "../../tests/support/manual_clock.ts";
import { ServerWatch } from "./server_watch.ts";

const MINUTE = 60_000;
const REFUSED = "Cannot reach https://s: connect ECONNREFUSED";

function setup() {
  const clock = new ManualClock();
  const log = new MemoryEventLog();
  const events = new SystemEvents({ log, logLine: () => {}, redact: (text) => text });
  const watch = new ServerWatch({
    clock,
    events,
    serverUrl: () => "https://s",
    backlog: () => ({ oldest: undefined, pending: 0 }),
  });
  const ids = () => log.entries.map((e) => e.id);
  return { clock, watch, ids };
}

const unreachable = (at: number): HealthResult => ({
  at,
  ok: false,
  message: REFUSED,
  failure: "network",
});

Deno.test("a health check that fails after a later answer does not start an outage", async () => {
  const { clock, watch, ids } = setup();
  watch.health(unreachable(clock.wallNow()));
  await clock.advance(31 * MINUTE);
  watch.check();
  assert.deepEqual(ids(), [EVENT_IDS.serverUnreachable]);

  // A check starts while the server is still down; before it gives up, an event is stored.
  const checkStarted = clock.wallNow();
  await clock.advance(10_000);
  watch.delivery({ paused: null, sent: 1, rejected: 0, lastSentAt: clock.wallNow() });
  assert.deepEqual(ids(), [EVENT_IDS.serverUnreachable, EVENT_IDS.serverReachable]);
  await clock.advance(20_000);
  watch.health(unreachable(checkStarted)); // its failure is older than the answer

  // The server answers on; no new observation comes while nothing waits to be sent.
  for (let minute = 0; minute < 31; minute++) {
    await clock.advance(MINUTE);
    watch.check();
  }
  assert.deepEqual(ids(), [EVENT_IDS.serverUnreachable, EVENT_IDS.serverReachable]);
});

Deno.test("a failure newer than the last answer starts an outage, 30 minutes from it", async () => {
  const { clock, watch, ids } = setup();
  watch.delivery({ paused: null, sent: 1, rejected: 0, lastSentAt: clock.wallNow() });
  await clock.advance(MINUTE);
  const failedAt = clock.wallNow();
  watch.health(unreachable(failedAt));
  await clock.advance(29 * MINUTE);
  watch.check();
  assert.deepEqual(ids(), []);
  await clock.advance(MINUTE);
  watch.check();
  assert.deepEqual(ids(), [EVENT_IDS.serverUnreachable]);
});
