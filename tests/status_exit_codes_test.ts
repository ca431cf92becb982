/**
 * `--status`, `--status --json` and `--pending` as a monitoring script meets them: the real CLI
 * in its own process, reading the folder of a real agent process that talks to the reference
 * server double over HTTPS. Each exit code of the Status table in docs/monitoring.md is provoked for real.
 */
import assert from "node:assert/strict";
import { AgentProcess, configureAgent, runCli } from "./support/agent_process.ts";
import { agentDir, eventually, TEST_API_KEY } from "./support/files.ts";
import { ReferenceServer } from "./support/reference_server.ts";
import type { StatusReport } from "../src/status/command.ts";

/** Runs `--status` (plus `extra`) until its exit code is `code`; returns the last run. */
function statusUntil(config: string, code: number, extra: string[] = []) {
  return eventually(
    `--status ${extra.join(" ")} to exit ${code}`,
    () => runCli(["--status", "--config", config, ...extra]),
    (result) => result.code === code,
  );
}

async function statusJson(config: string, extra: string[] = []): Promise<StatusReport> {
  const result = await runCli(["--status", "--json", "--config", config, ...extra]);
  const report = JSON.parse(result.stdout) as StatusReport;
  assert.equal(report.exitCode, result.code, "the JSON's exitCode is the exit code");
  return report;
}

Deno.test("--status exits 0 only when the agent runs, its health check passed and nothing waits too long", async (t) => {
  const server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], rateLimit: null });
  const { dir, config } = await agentDir("usm-status-");
  let agent: AgentProcess | undefined;
  try {
    await t.step("no agent, no config.ini: 4 (not running), not configured too", async () => {
      const report = await statusJson(config);
      assert.equal(report.exitCode, 4);
      assert.equal(report.verdict, "not-running");
      assert.deepEqual(report.failed, ["not-running", "not-configured"]);
      assert.equal(report.agent.running, false);
      assert.match(report.configError!, /^Config file not found: /);
    });

    await t.step("an agent runs without server_url and api_key: 5 (not configured)", async () => {
      agent = AgentProcess.start(config);
      await agent.ready();
      const result = await statusUntil(config, 5);
      assert.match(result.stdout, /^Config error: +not configured: api_key is not set/m);
      assert.equal(result.stdout.match(/Config error:/g)?.length, 1, "said once");
      assert.match(
        result.stdout,
        /^Verdict: +not configured; last health check not passed \(exit code 5\)$/m,
      );
      await agent.stop();
      agent = undefined;
    });

    await t.step(
      "one bad value: 5, the error said once, the set keys not called unset",
      async () => {
        await Deno.writeTextFile(
          config,
          `[API]\napi_key = ${TEST_API_KEY}\nserver_url = ${server.url}\nhealth_check_interval = abc\n`,
        );
        agent = AgentProcess.start(config);
        const settings = await agent.waitForLine(/Settings: /);
        assert.doesNotMatch(settings, /\(not set\)/);
        assert.match(settings, /Settings: none read from config\.ini yet \(see the error above\)/);
        const result = await statusUntil(config, 5);
        assert.equal(result.stdout.match(/Config error:/g)?.length, 1, result.stdout);
        assert.match(
          result.stdout,
          /^Config error: +Invalid value for health_check_interval in .* line 4: "abc"/m,
        );
        await agent.stop();
        agent = undefined;
        await Deno.remove(config);
      },
    );

    await t.step("configured, running, health check passed: 0, in text and JSON", async () => {
      await configureAgent(config, server, ["--timezone", "UTC"]);
      agent = AgentProcess.start(config);
      await agent.waitForLine(/Health check \(start\) passed/);
      const result = await statusUntil(config, 0);
      assert.match(result.stdout, /^Agent: +running \(pid \d+, since /m);
      assert.match(result.stdout, /^API key: +4795…93fa$/m);
      assert.match(result.stdout, /^Verdict: +OK \(exit code 0\)$/m);
      assert.ok(!result.stdout.includes(TEST_API_KEY));
      const report = await statusJson(config);
      assert.equal(report.verdict, "ok");
      assert.deepEqual(report.failed, []);
      assert.equal(report.agent.running, true);
      assert.equal(report.agent.pid, agent.pid);
      assert.equal(report.lastHealthCheck?.ok, true);
      assert.equal(report.events.pending, 0);
      assert.equal(report.maxBacklogSeconds, 3600);
    });

    await t.step("an event the server keeps failing, older than --max-backlog: 8", async () => {
      server.failNext(1000, 500);
      await agent!.feed({ type: "lock", user: "josh", session: 2, at: "2025-04-27T07:06:14Z" });
      await agent!.waitForLine(
        /Lock of josh at 2025-04-27T07:06:14Z not sent: the server answered 500/,
      );
      const result = await statusUntil(config, 8);
      assert.match(
        result.stdout,
        /^Verdict: +the oldest event not yet sent \(2025-04-27T07:06:14Z\) has waited \d+ minutes?, more than --max-backlog 1 hour(; the last attempt to send failed)? \(exit code 8\)$/m,
      );
      // With the backlog check off, the failing delivery still shows (it read OK before).
      await statusUntil(config, 10, ["--max-backlog", "0"]);
      const report = await statusJson(config, ["--max-backlog", "90s"]);
      assert.equal(report.verdict, "backlog");
      assert.equal(report.maxBacklogSeconds, 90);
      const short = await runCli(["--config", config, "--status", "--max-backlog", "10s"]);
      assert.match(short.stdout, /minutes?, more than --max-backlog 10 seconds/);
      assert.equal(report.events.oldestPendingAt, "2025-04-27T07:06:14Z");
      assert.ok(report.events.oldestPendingAgeSeconds! > 90);
    });

    await t.step("--pending lists it with its attempts and last error", async () => {
      // status.json follows a change within a moment: wait until it tells the attempt.
      const text = await eventually(
        "--pending to show the attempt",
        () => runCli(["--pending", "--config", config]),
        (result) => /josh +[1-9]/.test(result.stdout),
      );
      assert.equal(text.code, 0);
      const lines = text.stdout.trim().split("\n");
      assert.match(lines[0], /^time +type +user +attempts +last error$/);
      assert.match(
        lines[1],
        /^2025-04-27T07:06:14Z +Lock +josh +[1-9]\d* +Lock of josh at .* not sent: the server answered 500/,
      );
      const json = JSON.parse((await runCli(["--pending", "--json", "--config", config])).stdout);
      assert.equal(json.events.length, 1);
      const [event] = json.events;
      assert.deepEqual(Object.keys(event), ["time", "type", "user", "attempts", "lastError"]);
      assert.equal(event.time, "2025-04-27T07:06:14Z");
      assert.equal(event.type, "Lock");
      assert.equal(event.user, "josh");
      assert.ok(event.attempts >= 1);
      assert.match(event.lastError, /the server answered 500/);
      assert.equal(json.heldInMemory, 0);
    });

    await t.step("the server rejects the key: 6 (paused)", async () => {
      server.clear();
      server.failNext(1, 401);
      await agent!.waitForLine(/The server rejected the API key 4795…93fa/);
      const result = await statusUntil(config, 6);
      assert.match(result.stdout, /^Sending paused: +the server rejected the API key 4795…93fa$/m);
      const json = JSON.parse((await runCli(["--pending", "--json", "--config", config])).stdout);
      assert.match(json.events[0].lastError, /The server rejected the API key 4795…93fa/);
    });

    await t.step(
      "a passing health check (the paused agent probes by itself) resumes sending: 0 again",
      async () => {
        assert.equal((await runCli(["--config", config, "--debug", "true"])).code, 0);
        await server.waitFor((stored) => stored.length === 1);
        await statusUntil(config, 0);
        assert.match(
          (await runCli(["--pending", "--config", config])).stdout,
          /^No event waits to be sent$/m,
        );
      },
    );

    await t.step("the last health check failed: 7", async () => {
      server.setMode("error500");
      assert.equal((await runCli(["--config", config, "--debug", "false"])).code, 7);
      const result = await statusUntil(config, 7);
      assert.match(result.stdout, /^Last health check: FAILED at /m);
      const report = await statusJson(config);
      assert.equal(report.verdict, "health-failed");
      assert.equal(report.lastHealthCheck?.ok, false);
      server.setMode("ok");
    });

    await t.step("the agent stopped: 4", async () => {
      assert.equal((await agent!.stop()).code, 0);
      agent = undefined;
      const result = await statusUntil(config, 4);
      assert.match(result.stdout, /^Agent: +not running \(last seen stopped at /m);
    });
  } finally {
    if (agent) await agent.stop("SIGKILL");
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "the server down, a fresh event failing: 10 (delivery failing), 0 once it is sent",
  sanitizeResources: false, // the double's connections close asynchronously
  sanitizeOps: false,
  async fn() {
    const options = { apiKeys: [TEST_API_KEY], rateLimit: null };
    let server = await ReferenceServer.start(options);
    const port = server.port;
    const { dir, config } = await agentDir("usm-status-down-");
    await configureAgent(config, server, ["--timezone", "UTC"]);
    const agent = AgentProcess.start(config);
    try {
      await agent.waitForLine(/Health check \(start\) passed/);
      const earlier = new Date(Date.now() - 120_000).toISOString();
      await agent.feed({ type: "logon", user: "josh", session: 2, at: earlier });
      await server.waitFor((stored) => stored.length === 1, 20_000);
      await statusUntil(config, 0);

      await server.stop(); // ECONNREFUSED from now on
      const at = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      await agent.feed({ type: "lock", user: "josh", session: 2, at });
      const result = await statusUntil(config, 10);
      assert.match(result.stdout, /^Sending fails since: +\d{4}-/m);
      assert.match(
        result.stdout,
        /^Verdict: +the last attempt to send failed \(exit code 10\)$/m,
      );
      const report = await statusJson(config);
      assert.equal(report.verdict, "delivery-failing");
      assert.deepEqual(report.failed, ["delivery-failing"]);
      assert.match(report.problems[0], /failing since .*: Lock of josh .* not sent: Cannot reach/);
      assert.ok(report.deliveryFailingSince);
      assert.equal(report.computerName, Deno.hostname());
      assert.match(report.agentVersion!, /^\d+\.\d+\.\d+/);
      assert.equal(typeof report.installDir, "string"); // config.ini's install_dir
      assert.equal(report.events.lastRecordedAt, at);
      assert.match(report.events.lastSentEventAt!, /^\d{4}-/);
      assert.notEqual(report.events.lastSentEventAt, at);

      server = await ReferenceServer.start({ ...options, port });
      await server.waitFor((stored) => stored.length === 1, 120_000);
      const ok = await statusUntil(config, 0);
      assert.match(ok.stdout, /^Verdict: +OK \(exit code 0\)$/m);
      assert.equal((await statusJson(config)).events.lastSentEventAt, at);
    } finally {
      await agent.stop();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
