/**
 * Special files where the agent or a command reads: a FIFO at sessions.json or at the journal's
 * newest archive hung the start (nothing journaled, SIGTERM ignored); a FIFO at status.json hung
 * `--status` and `--pending`; a status.json with fields of the wrong type made `--status` fail
 * with "Cannot convert object to primitive value". Every read now goes through one reader that
 * refuses what is not a regular file, and status.json is checked field by field.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AGENT_PERMISSIONS, MOD_TS } from "../support/agent_process.ts";
import {
  AgentProcess,
  change,
  eventually,
  FaultBench,
  journalRows,
  mkfifo,
  stopOrFail,
} from "./journal_fault_support.ts";

/** Runs the CLI; one still running after `boundMs` (a hang) is killed and the test fails. */
async function cliOrFail(args: string[], boundMs = 30_000) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", ...AGENT_PERMISSIONS, MOD_TS, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), boundMs);
  const { code, signal, stdout, stderr } = await child.output();
  clearTimeout(timer);
  assert.equal(signal, null, `${args.join(" ")} hung and was killed`);
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test("a FIFO at sessions.json or at event_log.1.csv neither hangs the start nor the stop", async (t) => {
  const bench = await FaultBench.start();
  try {
    for (const name of ["sessions.json", "event_log.1.csv"]) {
      await t.step(name, async () => {
        const { dir, config } = await bench.folder();
        await mkfifo(join(dir, name));
        const agent = AgentProcess.start(config);
        try {
          await agent.ready();
          await agent.feed(change(`fifo-${name}`));
          await eventually("the event journaled", () => journalRows(dir), (r) => r.length === 1);
          await bench.expectStored([`fifo-${name}`]);
        } finally {
          assert.equal(await stopOrFail(agent), 0, agent.lines.slice(-10).join("\n"));
        }
        assert.ok(
          agent.lines.some((line) => line.includes(`it is a named pipe (FIFO)`)),
          agent.lines.join("\n"),
        );
      });
    }
  } finally {
    await bench.stop();
  }
});

Deno.test("--status and --pending report a FIFO or wrongly typed fields at status.json", async (t) => {
  const bench = await FaultBench.start();
  try {
    await t.step("a FIFO", async () => {
      const { dir, config } = await bench.folder();
      await mkfifo(join(dir, "status.json"));
      const status = await cliOrFail(["--status", "--config", config]);
      assert.equal(status.code, 1, status.stdout + status.stderr);
      assert.match(status.stdout, /status\.json is damaged: .*named pipe \(FIFO\)/);
      const pending = await cliOrFail(["--pending", "--config", config]);
      assert.match(pending.stdout, /status\.json is damaged/);
    });
    await t.step("fields of the wrong type", async () => {
      const { dir, config } = await bench.folder();
      const agent = AgentProcess.start(config);
      await agent.ready();
      assert.equal(await stopOrFail(agent), 0);
      const path = join(dir, "status.json");
      const status = JSON.parse(await Deno.readTextFile(path));
      await Deno.writeTextFile(path, JSON.stringify({ ...status, startedAt: {}, state: [] }));
      const result = await cliOrFail(["--status", "--config", config]);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stdout, /status\.json is damaged: the field state is \[\], not a string/);
      const json = JSON.parse((await cliOrFail(["--status", "--json", "--config", config])).stdout);
      assert.equal(json.verdict, "unknown");
      assert.match(json.agent.statusError, /is damaged/);
    });
  } finally {
    await bench.stop();
  }
});
