import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigWatcher, RELOAD_DEBOUNCE_MS } from "./config_watcher.ts";
import { ManualClock } from "../tests/support/manual_clock.ts";

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.ok(condition(), "timed out");
}

Deno.test("config watcher reports a burst of writes to config.ini once, after it settles", async () => {
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
  try {
    watcher.start();
    await Deno.writeTextFile(join(dir, "other.txt"), "x"); // another file: ignored
    await Deno.writeTextFile(path, "[server]\nserver_url = https://a\n");
    await Deno.writeTextFile(path, "[server]\nserver_url = https://b\n");
    await until(() => clock.pendingTimers > 0);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the rest of the burst arrives
    await clock.advance(RELOAD_DEBOUNCE_MS - 1);
    assert.equal(changes, 0);
    await clock.advance(1);
    assert.equal(changes, 1);
  } finally {
    await watcher.close();
    await watcher.close();
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("config watcher logs a folder it cannot watch and carries on", async () => {
  const lines: string[] = [];
  const watcher = new ConfigWatcher("/nonexistent/folder/config.ini", {
    clock: new ManualClock(),
    log: (_level, message) => lines.push(message),
    onChange: () => {},
  });
  watcher.start();
  await watcher.close();
  assert.match(lines[0], /^Cannot watch \/nonexistent\/folder for config changes: /);
});
