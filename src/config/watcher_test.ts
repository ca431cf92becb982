import assert from "node:assert/strict";
import { join } from "node:path";
import { CONFIG_POLL_MS, ConfigWatcher } from "./watcher.ts";
import { ManualClock } from "../../tests/support/manual_clock.ts";

Deno.test("config watcher reports a change of config.ini once it has settled, and nothing else", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "config.ini");
  await Deno.writeTextFile(path, "[server]\n");
  const clock = new ManualClock();
  let changes = 0;
  const watcher = new ConfigWatcher(path, {
    clock,
    log: (level, message) => assert.fail(`${level}: ${message}`),
    onChange: () => changes++,
  });
  // Each look is a real stat: let it finish before the next tick.
  const tick = async (n = 1) => {
    for (let i = 0; i < n; i++) {
      await clock.advance(CONFIG_POLL_MS);
      await watcher.looked();
    }
  };
  try {
    watcher.start();
    await watcher.looked();
    await tick();
    await Deno.writeTextFile(join(dir, "event_log.csv"), "x"); // another file: ignored
    await tick();
    assert.equal(changes, 0);
    await Deno.writeTextFile(path, "[server]\nserver_url = https://b\n");
    await tick(); // seen changed, not yet settled
    assert.equal(changes, 0);
    await tick();
    assert.equal(changes, 1);
    await tick(3);
    assert.equal(changes, 1, "reported once");
    await Deno.rename(path, path + ".gone");
    await tick(2);
    assert.equal(changes, 2, "a removed file is a change");
  } finally {
    await watcher.close();
    await watcher.close();
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(clock.pendingTimers, 0);
});
