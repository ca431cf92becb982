/**
 * Shared parts of the fault-injection tests (tests/faults/): one reference server double per test
 * file, agent folders configured for it by the real CLI, journal rows written as the agent
 * writes them, and checks of what reached the server.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { rowText } from "../../src/journal/journal.ts";
import { JOURNAL_HEADER } from "../../src/journal/journal.ts";
import { AgentProcess, configureAgent } from "../support/agent_process.ts";
import { agentDir, eventually, TEST_API_KEY } from "../support/files.ts";
import { ReferenceServer } from "../support/reference_server.ts";

export { AgentProcess };
export { runCli } from "../support/agent_process.ts";
export { eventually, journalRows, TEST_API_KEY } from "../support/files.ts";
export { ReferenceServer };

/** The journal's header line with its line end. */
export const HEADER = JOURNAL_HEADER + "\n";

/** A row of event_log.csv for user `user` (a Logon at second `n`), as the agent writes it. */
export function row(user: string, status: 0 | 1 | 2 | 3, n = 0): string {
  return rowText({
    eventType: "Logon",
    userName: user,
    computerName: "PC-1",
    ipAddress: "10.0.0.1",
    timestamp: Temporal.Instant.from("2025-04-27T07:00:00Z").add({ seconds: n }).toString(),
  }, status);
}

/** A simulated session change for user `user` at second `n`. */
export function change(user: string, n = 100): Record<string, unknown> {
  const at = Temporal.Instant.from("2025-04-27T08:00:00Z").add({ seconds: n }).toString();
  return { type: "lock", user, session: 2, at };
}

/** A server double and a config.ini configured for it, copied into each fresh folder. */
export class FaultBench {
  readonly server: ReferenceServer;
  readonly #template: string;
  readonly #dirs: string[] = [];

  private constructor(server: ReferenceServer, template: string) {
    this.server = server;
    this.#template = template;
  }

  static async start(): Promise<FaultBench> {
    const server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], rateLimit: null });
    const { dir, config } = await agentDir("usm-fault-template-");
    await configureAgent(config, server, ["--timezone", "UTC"]);
    const bench = new FaultBench(server, config);
    bench.#dirs.push(dir);
    return bench;
  }

  /** A fresh agent folder holding only the configured config.ini. */
  async folder(): Promise<{ dir: string; config: string; eventLog: string }> {
    const { dir, config } = await agentDir("usm-fault-");
    this.#dirs.push(dir);
    await Deno.copyFile(this.#template, config);
    await Deno.chmod(config, 0o600);
    return { dir, config, eventLog: join(dir, "event_log.csv") };
  }

  async stop(): Promise<void> {
    await this.server.stop();
    for (const dir of this.#dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  /** Waits until the server holds exactly `users` (in any order), each once. */
  async expectStored(users: string[], timeoutMs = 30_000): Promise<void> {
    const wanted = [...users].sort();
    await eventually(
      `the server to hold ${wanted.join(", ")}`,
      () => this.server.stored().map((s) => s.userName).filter((u) => wanted.includes(u)),
      (stored) => stored.length >= wanted.length,
      timeoutMs,
    );
    const stored = this.server.stored().map((s) => s.userName).filter((u) => wanted.includes(u));
    assert.deepEqual(stored.sort(), wanted, "each event reaches the server exactly once");
  }
}

/** The text of the folder's error.log ("" when there is none). */
export async function errorLog(dir: string): Promise<string> {
  return await Deno.readTextFile(join(dir, "error.log")).catch(() => "");
}

/** Makes a named pipe (FIFO) at `path`. */
export async function mkfifo(path: string): Promise<void> {
  const { code } = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(code, 0, `mkfifo ${path}`);
}

/** Names in `dir` that match `pattern`. */
export async function namesIn(dir: string, pattern: RegExp): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) if (pattern.test(entry.name)) names.push(entry.name);
  return names;
}

/**
 * Sends SIGTERM and waits for the exit; an agent still running after `boundMs` (a hang, not a
 * slow stop: the agent's own grace period is a few seconds) is killed and the test fails.
 */
export async function stopOrFail(agent: AgentProcess, boundMs = 20_000): Promise<number> {
  try {
    agent.child.kill("SIGTERM");
  } catch { /* already gone */ }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<"hung">((resolve) => timer = setTimeout(() => resolve("hung"), boundMs));
  const result = await Promise.race([agent.close(), hung]);
  clearTimeout(timer);
  if (result === "hung") {
    agent.child.kill("SIGKILL");
    await agent.close();
    assert.fail(`the agent did not stop on SIGTERM within ${boundMs} ms`);
  }
  return result.code;
}
