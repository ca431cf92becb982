import assert from "node:assert/strict";
import { ManualClock } from "../../../tests/support/manual_clock.ts";
import type { ServiceHooks, StartOptions } from "../../platform.ts";
import { HostLifecycle } from "./host_lifecycle.ts";

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Hooks that record every call in `calls`; start and stop resolve when told. */
function fakeHooks() {
  const calls: string[] = [];
  const start = Promise.withResolvers<void>();
  const stop = Promise.withResolvers<void>();
  const shutdown = Promise.withResolvers<void>();
  let startOptions: StartOptions | undefined;
  const hooks: ServiceHooks = {
    start(options) {
      startOptions = options;
      calls.push(`start deferNetwork=${options?.deferNetwork}`);
      return start.promise;
    },
    online() {
      calls.push("online");
      return Promise.resolve();
    },
    stop() {
      calls.push("stop");
      return stop.promise;
    },
    shutdown() {
      calls.push("shutdown");
      return shutdown.promise;
    },
    reload() {
      calls.push("reload");
      return Promise.resolve();
    },
    log: () => {},
  };
  return { hooks, calls, start, stop, shutdown, options: () => startOptions };
}

function setUp(caps?: { startMs?: number; stopMs?: number; shutdownMs?: number }) {
  const clock = new ManualClock(0);
  const fake = fakeHooks();
  const reports: string[] = [];
  const host = new HostLifecycle({
    hooks: fake.hooks,
    clock,
    caps,
    report: (state, { checkPoint, exitCode }) =>
      reports.push(
        `${state}${checkPoint ? ` cp${checkPoint}` : ""}${exitCode ? ` exit${exitCode}` : ""}`,
      ),
  });
  return { clock, host, reports, ...fake };
}

Deno.test("start: the journal opens with the network deferred, then RUNNING, then the network", async () => {
  const t = setUp();
  t.host.begin();
  assert.deepEqual(t.calls, ["start deferNetwork=true"]);
  await t.clock.advance(2_000);
  assert.deepEqual(t.calls, ["start deferNetwork=true"], "nothing more before it is open");
  t.options()!.progress!("journal open");
  t.start.resolve();
  await tick();
  await tick();
  assert.deepEqual(t.calls, ["start deferNetwork=true", "online"]);
  assert.deepEqual(t.reports, ["start_pending cp1", "start_pending cp2", "running"]);
});

Deno.test("checkpoints come from real steps only: a hung start reports STOPPED with code 11 at the cap", async () => {
  const t = setUp({ startMs: 60_000 });
  t.host.begin();
  await t.clock.advance(59_000);
  assert.deepEqual(t.reports, ["start_pending cp1"], "no timer invents progress");
  await t.clock.advance(1_000);
  assert.deepEqual(t.reports, ["start_pending cp1", "stopped exit11"]);
  assert.equal(await t.host.finished, 11);
});

Deno.test("a failed start reports STOPPED with the agent's service exit code", async () => {
  const t = setUp();
  t.host.begin();
  t.start.reject(Object.assign(new Error("journal"), { serviceExitCode: 3 }));
  assert.equal(await t.host.finished, 3);
  assert.deepEqual(t.reports, ["start_pending cp1", "stopped exit3"]);
});

Deno.test("shutdown ordering: queued work first, then hooks.shutdown (not stop), then STOPPED", async () => {
  const t = setUp();
  t.host.begin();
  t.start.resolve();
  await tick();
  t.host.shutdown();
  t.host.stop(); // a second request changes nothing
  await tick();
  await tick();
  assert.deepEqual(t.calls.slice(1), ["online", "shutdown"]);
  t.shutdown.resolve();
  assert.equal(await t.host.finished, 0);
  assert.deepEqual(t.reports, [
    "start_pending cp1",
    "running",
    "stop_pending cp1",
    "stop_pending cp2",
    "stop_pending cp3",
    "stopped",
  ]);
});

Deno.test("shutdown during the start waits for the journal and stays within its cap", async () => {
  const t = setUp({ shutdownMs: 12_000 });
  t.host.begin();
  t.host.shutdown();
  await t.clock.advance(1_000);
  t.start.resolve(); // the journal opens
  await tick();
  await tick();
  assert.deepEqual(t.calls, ["start deferNetwork=true", "shutdown"]);
  assert.ok(!t.calls.includes("online"), "no network on the way down");
  // hooks.shutdown hangs: the host reports STOPPED at the cap, not later, with exit code 0.
  await t.clock.advance(11_000);
  assert.equal(await t.host.finished, 0);
  assert.equal(t.reports.at(-1), "stopped");
});

Deno.test("stop: hooks.stop under the stop cap", async () => {
  const t = setUp();
  t.host.begin();
  t.start.resolve();
  await tick();
  t.host.stop();
  await tick();
  await tick();
  assert.equal(t.calls.at(-1), "stop");
  t.stop.resolve();
  assert.equal(await t.host.finished, 0);
});

Deno.test("a stop that outlasts its cap or fails still ends with exit code 0 (no failure-action restart)", async () => {
  for (const outcome of ["hang", "fail"] as const) {
    const t = setUp({ stopMs: 5_000 });
    t.host.begin();
    t.start.resolve();
    await tick();
    t.host.stop();
    await tick();
    await tick();
    assert.equal(t.calls.at(-1), "stop");
    if (outcome === "fail") t.stop.reject(new Error("the journal could not be closed"));
    else await t.clock.advance(5_000);
    assert.equal(await t.host.finished, 0, outcome);
    assert.equal(t.reports.at(-1), "stopped", outcome);
  }
});

Deno.test("reload control 128 is rate-limited: one at once, the rest coalesced into one later", async () => {
  const t = setUp();
  t.host.begin();
  t.start.resolve();
  await tick();
  for (let i = 0; i < 50; i++) t.host.reload(); // a user looping sc control 128
  await tick();
  assert.equal(t.calls.filter((c) => c === "reload").length, 1);
  await t.clock.advance(9_999);
  assert.equal(t.calls.filter((c) => c === "reload").length, 1);
  await t.clock.advance(1);
  await tick();
  assert.equal(t.calls.filter((c) => c === "reload").length, 2, "the coalesced one runs");
  await t.clock.advance(60_000);
  assert.equal(t.calls.filter((c) => c === "reload").length, 2);
});
