/**
 * The child processes of scripts/bench.ts: agents, bare baseline scripts, their output, and
 * /proc readings of their CPU and memory. Every child is tracked so an interrupted bench can end
 * it by its pid (SIGTERM, then SIGKILL).
 *
 * @module
 */
import { readLines } from "../../src/text.ts";
import { AGENT_PERMISSIONS, AgentProcess } from "../../tests/support/agent_process.ts";
import { TEST_API_KEY } from "../../tests/support/files.ts";

/** Every child still running, so an interrupted bench can end them by pid. */
export const children = new Set<Deno.ChildProcess>();

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Ends a child by its pid: SIGTERM, then SIGKILL after `graceMs`. */
export async function endChild(child: Deno.ChildProcess, graceMs = 10_000): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* already gone */ }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = await Promise.race([
    child.status.then(() => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), graceMs)),
  ]);
  clearTimeout(timer);
  if (!exited) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
  }
  children.delete(child);
}

/** Kills every child still running with SIGKILL (on Ctrl+C). */
export function killChildren(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}

/** Starts an agent on `config` (`--service run --simulate -`). */
export function startAgent(config: string): AgentProcess {
  const agent = AgentProcess.start(config);
  children.add(agent.child);
  return agent;
}

/** Ends an agent by its pid and waits for its output to end. */
export async function endAgent(agent: AgentProcess): Promise<void> {
  await endChild(agent.child);
  await agent.close();
}

/** `deno run -q <agent permissions> <script> ...args`, stdout piped. */
export function spawnDeno(
  script: string,
  args: string[],
  stdin: "piped" | "null",
): Deno.ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", ...AGENT_PERMISSIONS, script, ...args],
    env: { NO_COLOR: "1", USM_BENCH_API_KEY: TEST_API_KEY },
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  children.add(child);
  return child;
}

/** Collects a child's stdout lines and stderr; `lines()` waits for stdout lines. */
export class ChildOutput {
  readonly stdout: string[] = [];
  stderr = "";
  #waiters: (() => void)[] = [];
  readonly done: Promise<void>;

  constructor(child: Deno.ChildProcess) {
    const out = (async () => {
      for await (const line of readLines(child.stdout)) {
        this.stdout.push(line);
        this.#wake();
      }
      this.#wake();
    })();
    const err = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.stderr += chunk;
      }
    })();
    this.done = Promise.all([out, err]).then(() => {});
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once stdout holds `count` lines; rejects after `timeoutMs` or at its end. */
  async lines(count: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let ended = false;
    this.done.then(() => ended = true);
    while (this.stdout.length < count) {
      if (ended || performance.now() > deadline) {
        throw new Error(
          `The child printed ${this.stdout.length} of ${count} lines; stderr: ${
            this.stderr.trim().slice(-300) || "(empty)"
          }`,
        );
      }
      await Promise.race([
        new Promise<void>((resolve) => this.#waiters.push(resolve)),
        sleep(50),
      ]);
    }
  }
}

/** utime + stime of a process, in seconds. */
export async function cpuSeconds(pid: number, ticksPerSecond: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** VmRSS of a process, in MiB. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!match) throw new Error(`No VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** The kernel's clock ticks per second (`getconf CLK_TCK`), 100 when unknown. */
export async function clockTicks(): Promise<number> {
  try {
    const { stdout } = await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output();
    const ticks = Number(new TextDecoder().decode(stdout).trim());
    if (Number.isInteger(ticks) && ticks > 0) return ticks;
  } catch { /* getconf missing */ }
  return 100;
}
