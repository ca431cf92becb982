import assert from "node:assert/strict";
import { PeriodicTasks } from "./periodic.ts";
import { ManualClock } from "../../tests/support/manual_clock.ts";

Deno.test("periodic tasks run on their interval, are replaced by name and stop together", async () => {
  const clock = new ManualClock();
  const tasks = new PeriodicTasks(clock);
  const runs: string[] = [];
  tasks.every("health", 1000, () => runs.push("health"));
  tasks.every("ip", 300, () => runs.push("ip"));
  await clock.advance(1000);
  assert.deepEqual(runs, ["ip", "ip", "ip", "health"]);
  tasks.every("health", 0, () => runs.push("never")); // 0 turns it off
  tasks.every("ip", 2000, () => runs.push("ip2"));
  runs.length = 0;
  await clock.advance(2000);
  assert.deepEqual(runs, ["ip2"]);
  tasks.stop();
  tasks.every("ip", 10, () => runs.push("after stop"));
  await clock.advance(5000);
  assert.deepEqual(runs, ["ip2"]);
  assert.equal(clock.pendingTimers, 0);
});
