import assert from "node:assert/strict";
import { join } from "node:path";
import { rowText } from "../journal/journal.ts";
import { createPosixPlatform } from "../posix.ts";
import { type AgentStatus, InstanceLock, STATUS_BLOCK, statusText, writeStatus } from "./status.ts";
import { statusLines, statusReport } from "./command.ts";
import { pendingLines, pendingReport } from "./pending.ts";
import { STATUS_EXIT_CODES } from "../exit_codes.ts";
import { JOURNAL_HEADER } from "../journal/journal.ts";
import { eventKey, type SessionEvent } from "../event.ts";

const KEY = "47959c6d5d8db64eb0ec3ad824ccbe82618632e2a58823d84aba92078da693fa";
const NOW = Date.parse("2025-04-27T10:00:00Z");
const platform = { ...createPosixPlatform(), defaultInstallDir: () => "/opt/usm" };

function event(user: string, timestamp: string): SessionEvent {
  return {
    eventType: "Lock",
    userName: user,
    computerName: "PC",
    ipAddress: "192.0.2.1",
    timestamp,
  };
}

function agentStatus(overrides: Partial<AgentStatus> = {}): AgentStatus {
  return {
    version: "0.1.0",
    pid: Deno.pid,
    state: "running",
    startedAt: NOW - 60_000,
    updatedAt: NOW - 1000,
    configPath: "config.ini",
    serverUrl: "https://127.0.0.1:8000",
    healthCheckInterval: "every 30 minutes",
    lastHealthCheck: {
      at: NOW - 30_000,
      ok: true,
      httpStatus: 200,
      message: "Health check passed",
    },
    sent: 0,
    rejected: 0,
    pending: 0,
    unsaved: 0,
    ...overrides,
  };
}

/** An agent folder: config.ini, event_log.csv with `rows`, status.json, the lock when `running`. */
async function folder(
  options: {
    config?: string;
    rows?: [SessionEvent, 0 | 1 | 3][];
    status?: AgentStatus;
    running?: boolean;
  },
  fn: (config: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "usm-status-cmd-" });
  const config = join(dir, "config.ini");
  const lock = options.running ? InstanceLock.acquire(dir) : undefined;
  try {
    await Deno.writeTextFile(
      config,
      options.config ?? `[API]\napi_key = ${KEY}\nserver_url = https://127.0.0.1:8000\n`,
    );
    if (options.rows) {
      const text = JOURNAL_HEADER + "\n" +
        options.rows.map(([e, status]) => rowText(e, status)).join("");
      await Deno.writeTextFile(join(dir, "event_log.csv"), text);
    }
    if (options.status) assert.equal(await writeStatus(dir, options.status), undefined);
    await fn(config);
  } finally {
    lock?.release();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("--status's verdict: the first problem in the documented order decides the exit code", async (t) => {
  const old = event("old", "2025-04-27T08:00:00Z"); // two hours before NOW
  const recent = event("recent", "2025-04-27T09:59:00Z");
  const cases: {
    name: string;
    setup: Parameters<typeof folder>[0];
    maxBacklogMs?: number;
    failed: string[];
  }[] = [
    {
      name: "all well",
      setup: { running: true, status: agentStatus(), rows: [[recent, 0]] },
      failed: [],
    },
    { name: "no agent", setup: { status: agentStatus() }, failed: ["not-running"] },
    {
      name: "config.ini without api_key",
      setup: { running: true, status: agentStatus(), config: "[API]\nserver_url = https://a:1\n" },
      failed: ["not-configured"],
    },
    {
      name: "paused and health failed",
      setup: {
        running: true,
        status: agentStatus({
          paused: "the server rejected the API key 4795…93fa",
          lastHealthCheck: { at: NOW, ok: false, message: "Invalid API key" },
        }),
      },
      failed: ["paused", "health-failed"],
    },
    {
      name: "no health check yet",
      setup: { running: true, status: agentStatus({ lastHealthCheck: undefined }) },
      failed: ["health-failed"],
    },
    {
      name: "held in memory and a backlog",
      setup: { running: true, status: agentStatus({ unsaved: 3 }), rows: [[old, 0], [recent, 0]] },
      failed: ["held-in-memory", "backlog"],
    },
    {
      name: "a backlog within a longer --max-backlog",
      setup: { running: true, status: agentStatus(), rows: [[old, 0]] },
      maxBacklogMs: 3 * 3600_000,
      failed: [],
    },
    {
      name: "a sent or refused old event is no backlog",
      setup: { running: true, status: agentStatus(), rows: [[old, 1], [old, 3]] },
      failed: [],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await folder(c.setup, async (config) => {
        const report = await statusReport(config, {
          platform,
          now: NOW,
          maxBacklogMs: c.maxBacklogMs,
        });
        assert.deepEqual(report.failed, c.failed, report.problems.join("; "));
        const verdict = (c.failed[0] ?? "ok") as keyof typeof STATUS_EXIT_CODES;
        assert.equal(report.verdict, verdict);
        assert.equal(report.exitCode, STATUS_EXIT_CODES[verdict]);
        const lines = statusLines(report);
        assert.match(lines.at(-1)!, new RegExp(`\\(exit code ${report.exitCode}\\)$`));
        assert.ok(!lines.join("\n").includes(KEY), "the API key is shown masked only");
      });
    });
  }
});

Deno.test("--status tells a backlog under a minute in seconds, over it in minutes", async () => {
  const recent = event("recent", "2025-04-27T09:59:30Z"); // 30 s before NOW
  const old = event("old", "2025-04-27T08:00:00Z");
  const cases: [SessionEvent, number, string][] = [
    [recent, 10_000, "has waited 30 seconds, more than --max-backlog 10 seconds"],
    [old, 90_000, "has waited 2 hours, more than --max-backlog 90 seconds"],
    [old, 30 * 60_000, "has waited 2 hours, more than --max-backlog 30 minutes"],
  ];
  for (const [pending, maxBacklogMs, said] of cases) {
    await folder({ running: true, status: agentStatus(), rows: [[pending, 0]] }, async (config) => {
      const report = await statusReport(config, { platform, now: NOW, maxBacklogMs });
      assert.ok(report.problems.some((p) => p.includes(said)), report.problems.join("; "));
    });
  }
});

Deno.test("--status shows a broken config.ini once", async () => {
  await folder({
    running: true,
    status: agentStatus({ configError: "x" }),
    config: "[API]\nbad line\n",
  }, async (config) => {
    const lines = statusLines(await statusReport(config, { platform, now: NOW }));
    assert.equal(lines.filter((l) => l.startsWith("Config error:")).length, 1, lines.join("\n"));
    assert.match(lines.join("\n"), /Config error: +Invalid line 2 in /);
  });
});

Deno.test("--pending lists the pending events with the running agent's attempts", async () => {
  const first = event("josh", "2025-04-27T08:06:14+01:00");
  const second = event("zoë", "2025-04-27T08:10:38+01:00");
  const status = agentStatus({
    unsaved: 2,
    sending: {
      key: eventKey(first),
      attempts: 3,
      lastError: "the server answered 500",
    },
  });
  await folder({
    running: true,
    status,
    rows: [[event("sent", "2025-04-27T08:00:00+01:00"), 1], [first, 0], [second, 0]],
  }, async (config) => {
    const report = await pendingReport(config);
    assert.deepEqual(report.events, [
      {
        time: first.timestamp,
        type: "Lock",
        user: "josh",
        attempts: 3,
        lastError: "the server answered 500",
      },
      { time: second.timestamp, type: "Lock", user: "zoë", attempts: 0, lastError: null },
    ]);
    assert.equal(report.heldInMemory, 2);
    assert.deepEqual(pendingLines(report), [
      "time                       type  user  attempts  last error",
      "2025-04-27T08:06:14+01:00  Lock  josh  3         the server answered 500",
      "2025-04-27T08:10:38+01:00  Lock  zoë   0",
      "2 more events are held in memory: event_log.csv cannot be written",
    ]);
  });
});

Deno.test("status.json keeps room for itself: padded to whole blocks, still JSON", () => {
  const text = statusText(agentStatus());
  assert.equal(text.length % STATUS_BLOCK, 0);
  assert.ok(text.endsWith(" \n"));
  assert.deepEqual(JSON.parse(text), agentStatus());
  const long = statusText(agentStatus({ lastError: { at: NOW, message: "x".repeat(5000) } }));
  assert.equal(long.length, 2 * STATUS_BLOCK);
});

Deno.test("every field of --status --json is described in docs/monitoring.md", async () => {
  const readme = await Deno.readTextFile(new URL("../../docs/monitoring.md", import.meta.url));
  const start = readme.indexOf("`--status --json` prints the same facts");
  assert.ok(start > 0, "docs/monitoring.md describes --status --json");
  const table = readme.slice(start, readme.indexOf("\n\n", readme.indexOf("| field |", start)));
  const documented = new Set([...table.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]));
  await folder({ running: true, status: agentStatus() }, async (config) => {
    const report = await statusReport(config, { platform, now: NOW });
    const fields = [
      ...Object.keys(report),
      ...Object.keys(report.agent),
      ...Object.keys(report.events),
      ...Object.keys(report.lastHealthCheck!),
    ];
    const missing = fields.filter((field) => !documented.has(field));
    assert.deepEqual(missing, [], "fields of --status --json docs/monitoring.md does not describe");
  });
});
