/**
 * A real agent child process (`deno run mod.ts ...`) for end-to-end tests: stdin for
 * `--simulate -`, stderr lines collected (the agent echoes its log there in foreground mode).
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { AGENT_PERMISSIONS } from "../../src/permissions.ts";
import { readLines } from "../../src/text.ts";

export { AGENT_PERMISSIONS };
import { HANG_MS, TEST_API_KEY } from "./files.ts";

/** The agent's entry point. */
export const MOD_TS = fromFileUrl(new URL("../../mod.ts", import.meta.url));

/** Runs the CLI once and returns its exit code and output. */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", ...AGENT_PERMISSIONS, MOD_TS, ...args],
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/**
 * Configures an agent folder for `server` the way an administrator does: `--url`, `--api-key`
 * (the test key), `--pin-server-cert`, plus `extra` flags. Fails the test if the CLI fails.
 */
export async function configureAgent(
  config: string,
  server: { url: string },
  extra: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await runCli([
    "--config",
    config,
    "--url",
    server.url,
    "--api-key",
    TEST_API_KEY,
    "--pin-server-cert",
    ...extra,
  ]);
  assert.equal(result.code, 0, `configuring ${config} failed: ${result.stderr}${result.stdout}`);
  return result;
}

/** One running agent. */
export class AgentProcess {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reading: Promise<void>;
  #waiters = new Set<() => void>();
  #exited: Promise<Deno.CommandStatus>;
  #stdinClosed = false;

  private constructor(child: Deno.ChildProcess) {
    this.child = child;
    this.#writer = child.stdin.getWriter();
    this.#exited = child.status;
    this.#reading = (async () => {
      for await (const line of readLines(child.stderr)) {
        this.lines.push(line);
        for (const wake of this.#waiters) wake();
      }
      for (const wake of this.#waiters) wake();
    })();
    // stdout is unused in run mode; drain it so the child never blocks on a full pipe.
    child.stdout.pipeTo(new WritableStream()).catch(() => {});
  }

  /**
   * Starts `--service run --config <configPath> --simulate -`; with `simulate: false`, without
   * `--simulate` (the platform's own session source).
   */
  static start(
    configPath: string,
    options: { env?: Record<string, string>; simulate?: boolean } = {},
  ): AgentProcess {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        ...AGENT_PERMISSIONS,
        MOD_TS,
        "--service",
        "run",
        "--config",
        configPath,
        ...(options.simulate === false ? [] : ["--simulate", "-"]),
      ],
      env: { NO_COLOR: "1", ...options.env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new AgentProcess(child);
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Writes session changes as JSON Lines to the agent's stdin. */
  async feed(...changes: Record<string, unknown>[]): Promise<void> {
    const text = changes.map((c) => JSON.stringify(c) + "\n").join("");
    await this.#writer.write(new TextEncoder().encode(text));
  }

  /** Writes raw text to stdin (for malformed-line tests). */
  async feedRaw(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text));
  }

  /**
   * Resolves with the first stderr line matching `pattern` (counting lines already seen from
   * `from` on). The deadline only bounds a hang: a test waits for a line only where no state
   * (a journal row, a request at the server, a status.json field) shows the same.
   */
  waitForLine(pattern: RegExp, timeoutMs = HANG_MS, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.slice(from).find((l) => pattern.test(l));
        if (line !== undefined) {
          done();
          resolve(line);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `No line matching ${pattern} within ${timeoutMs} ms; agent said:\n${
              this.lines.slice(-30).join("\n")
            }`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Waits until the agent says it is ready. */
  ready(timeoutMs = HANG_MS): Promise<string> {
    return this.waitForLine(/Agent ready/, timeoutMs);
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch { /* already gone */ }
    return await this.close();
  }

  /** Closes stdin and waits for the process and its output to end. */
  async close(): Promise<Deno.CommandStatus> {
    if (!this.#stdinClosed) {
      this.#stdinClosed = true;
      await this.#writer.close().catch(() => {});
    }
    const status = await this.#exited;
    await this.#reading;
    return status;
  }
}
