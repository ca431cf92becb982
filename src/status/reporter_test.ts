import assert from "node:assert/strict";
import { join } from "node:path";
import { fallbackConfig } from "../config/source.ts";
import { removeTemporaries } from "../atomic_write.ts";
import { TEMPORARY_TARGETS } from "../agent/startup.ts";
import { readStatus } from "./status.ts";
import { buildStatus, STATUS_DELAY_MS, type StatusFacts, StatusReporter } from "./reporter.ts";
import { ManualClock } from "../../tests/support/manual_clock.ts";

const KEY = "47959c6d0123456789abcdef0123456789abcdefdeadbeef";

function facts(overrides: Partial<StatusFacts> = {}): StatusFacts {
  return {
    version: "1.2.3",
    state: "running",
    startedAt: 1000,
    configPath: "/agent/config.ini",
    config: { ...fallbackConfig("/agent"), apiKey: KEY, serverUrl: "https://127.0.0.1:8000" },
    configError: undefined,
    delivery: { paused: null, sent: 4, rejected: 1 },
    lastHealth: undefined,
    pending: 2,
    unsaved: 1,
    ...overrides,
  };
}

Deno.test("status says why nothing is sent, without the API key", () => {
  const running = buildStatus(facts(), 5000);
  assert.equal(running.updatedAt, 5000);
  assert.equal(running.paused, undefined);
  assert.deepEqual([running.sent, running.rejected, running.pending, running.unsaved], [
    4,
    1,
    2,
    1,
  ]);
  assert.equal(running.healthCheckInterval, "every 30 minutes");
  const rejected = buildStatus(
    facts({ delivery: { paused: "unauthorized", sent: 0, rejected: 0 } }),
    0,
  );
  assert.equal(rejected.paused, "the server rejected the API key 4795…beef");
  assert.ok(!JSON.stringify(rejected).includes(KEY));
  const broken = buildStatus(facts({ configError: "bad line 3" }), 0);
  assert.equal(broken.paused, "config.ini cannot be used: bad line 3");
  assert.match(
    buildStatus(facts({ delivery: { paused: "misconfigured", sent: 0, rejected: 0 } }), 0).paused!,
    /check server_url/,
  );
  assert.match(
    buildStatus(facts({ delivery: { paused: "refusing", sent: 0, rejected: 0 } }), 0).paused!,
    /refuses different events alike.*asked again with backoff/,
  );
});

Deno.test("status.json is written once for a burst of changes, and a last time at close", async () => {
  const dir = await Deno.makeTempDir();
  const clock = new ManualClock();
  let writes = 0;
  let state: StatusFacts["state"] = "running";
  const reporter = new StatusReporter({
    dir,
    clock,
    log: () => {},
    status: () => {
      writes++;
      return buildStatus(facts({ state }), clock.wallNow());
    },
  });
  try {
    reporter.soon();
    reporter.soon();
    reporter.soon();
    assert.equal(writes, 0);
    await clock.advance(STATUS_DELAY_MS);
    await reporter.write(); // waits for the write the timer started, then writes again
    assert.equal(writes, 2);
    assert.equal((await readStatus(dir))?.state, "running");
    reporter.soon();
    state = "stopped";
    await reporter.close();
    assert.equal(writes, 3);
    assert.equal(clock.pendingTimers, 0);
    reporter.soon();
    assert.equal(clock.pendingTimers, 0);
    assert.equal((await readStatus(dir))?.state, "stopped");
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["status.json"]);
    if (Deno.build.os !== "windows") {
      assert.equal(Deno.statSync(join(dir, "status.json")).mode! & 0o777, 0o600);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a start removes the status.json temporaries a killed agent left, and nothing else", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const left = join(dir, `.status.json.${crypto.randomUUID()}.tmp`);
    const other = join(dir, `.config.ini.${crypto.randomUUID()}.tmp`);
    for (const path of [left, other, join(dir, "status.json")]) {
      await Deno.writeTextFile(path, "{}");
    }
    await removeTemporaries(dir, TEMPORARY_TARGETS.filter((t) => t === "status.json"));
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, [other.slice(dir.length + 1), "status.json"].sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
