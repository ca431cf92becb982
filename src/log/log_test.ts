import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentLogs, LOG_ARCHIVES } from "./log.ts";

const KEY = "47959c6d5d8db64eb0ec3ad824ccbe82618632e2a58823d84aba92078da693fa";

function logsIn(dir: string, overrides: Partial<ConstructorParameters<typeof AgentLogs>[1]> = {}) {
  return new AgentLogs(dir, {
    timeZone: "Europe/London",
    debug: false,
    sessionLogBytes: 1 << 20,
    errorLogBytes: 1 << 20,
    now: () => Date.parse("2025-04-27T07:06:14.123Z"),
    ...overrides,
  });
}

Deno.test("logs stamp lines in the configured zone and split errors into error.log", async () => {
  const dir = await Deno.makeTempDir();
  const logs = logsIn(dir);
  logs.log("info", "hello");
  logs.log("debug", "hidden");
  logs.log("warn", "careful");
  logs.log("error", "broken");
  logs.close();
  const session = await Deno.readTextFile(join(dir, "session_monitor.log"));
  const errors = await Deno.readTextFile(join(dir, "error.log"));
  assert.equal(
    session,
    "2025-04-27T08:06:14.123+01:00 INFO  hello\n" +
      "2025-04-27T08:06:14.123+01:00 WARN  careful\n" +
      "2025-04-27T08:06:14.123+01:00 ERROR broken\n",
  );
  assert.equal(errors.split("\n").filter(Boolean).length, 2);
  assert.ok(!session.includes("hidden"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("debug lines appear only with debug_logs on", async () => {
  const dir = await Deno.makeTempDir();
  const logs = logsIn(dir);
  logs.configure({
    timeZone: "UTC",
    debug: true,
    sessionLogBytes: 1 << 20,
    errorLogBytes: 1 << 20,
  });
  logs.log("debug", "visible");
  logs.close();
  assert.match(await Deno.readTextFile(join(dir, "session_monitor.log")), /\+00:00 DEBUG visible/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the API key never reaches a log file, whatever the message", async () => {
  const dir = await Deno.makeTempDir();
  const logs = logsIn(dir);
  logs.redactor.add(KEY);
  logs.log("error", `request failed with headers {"X-API-Key":"${KEY}"} and ${KEY}`);
  logs.close();
  for (const name of ["session_monitor.log", "error.log"]) {
    const text = await Deno.readTextFile(join(dir, name));
    assert.ok(!text.includes(KEY), name);
    assert.ok(text.includes("4795…93fa"), name);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a log rotates at its size and keeps a bounded number of archives", async () => {
  const dir = await Deno.makeTempDir();
  const logs = logsIn(dir, { sessionLogBytes: 200, errorLogBytes: 0 });
  for (let i = 0; i < 40; i++) logs.log("warn", `line ${i} ${"x".repeat(20)}`);
  logs.close();
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(names, [
    "session_monitor.log",
    ...Array.from({ length: LOG_ARCHIVES }, (_, i) => `session_monitor.log.${i + 1}`),
  ]);
  for (const name of names) assert.ok(Deno.statSync(join(dir, name)).size <= 200, name);
  // error_log_rotation_size_mb = 0 disables error.log.
  assert.ok(!names.includes("error.log"));
  const last = await Deno.readTextFile(join(dir, "session_monitor.log"));
  assert.match(last, /line 39/);
  await Deno.remove(dir, { recursive: true });
});
