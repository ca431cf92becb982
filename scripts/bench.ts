/**
 * `deno task bench`: measures the agent (a real `mod.ts --service run --simulate -` process)
 * against the reference server double on 127.0.0.1, each figure beside a baseline measured in
 * the same run on the same machine, and prints one Markdown table and the targets.
 *
 * Usage: deno run -A scripts/bench.ts [--quick]
 * `--quick` shortens every measurement (a smoke run, about a minute); figures are then rough.
 *
 * Every child process is ended by its pid (SIGTERM, then SIGKILL) in a finally block.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { SessionEvent } from "../src/event.ts";
import { Journal, JOURNAL_HEADER, type JournalEntry, rowText } from "../src/journal.ts";
import { AGENT_PERMISSIONS, AgentProcess, configureAgent } from "../tests/support/agent_process.ts";
import { TEST_API_KEY } from "../tests/support/files.ts";
import { ReferenceServer, type RequestRecord } from "../tests/support/reference_server.ts";
import { describeFigure, type Figure, median, percentile, ratio, round } from "./bench/stats.ts";

const EVENT_PATH = "/api/log_event";
const RATE_LIMIT = { limit: 60, windowMs: 5_000 };
/**
 * Unmeasured events before each latency run: the first opens the connection, the next let V8
 * compile the hot path (without them a fresh process's p99 is mostly JIT warm-up).
 */
const LATENCY_WARM_UP = 50;
const BARE_CLIENT = fileURLToPath(new URL("./bench/bare_client.ts", import.meta.url));
const IDLE_SCRIPT = fileURLToPath(new URL("./bench/idle.ts", import.meta.url));
const HELLO_SCRIPT = fileURLToPath(new URL("./bench/hello.ts", import.meta.url));

/** How much each measurement does. */
interface Plan {
  idleMs: number;
  idlePairs: number;
  startRuns: number;
  latencyEvents: number;
  latencyRuns: number;
  drainEvents: number;
  drainRuns: number;
  limitedEvents: number;
  limitedRuns: number;
  journalOps: number;
  journalRuns: number;
}

const FULL: Plan = {
  idleMs: 60_000,
  idlePairs: 3,
  startRuns: 7,
  latencyEvents: 1_000,
  latencyRuns: 3,
  drainEvents: 10_000,
  drainRuns: 3,
  limitedEvents: 600,
  limitedRuns: 3,
  journalOps: 2_000,
  journalRuns: 5,
};

const QUICK: Plan = {
  idleMs: 10_000,
  idlePairs: 3,
  startRuns: 3,
  latencyEvents: 100,
  latencyRuns: 3,
  drainEvents: 1_000,
  drainRuns: 3,
  limitedEvents: 120,
  limitedRuns: 3,
  journalOps: 300,
  journalRuns: 3,
};

/** Epoch milliseconds with sub-millisecond precision: the servers' clock and the bench's. */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Every child still running, so an interrupted bench can end them by pid. */
const children = new Set<Deno.ChildProcess>();

function errorText(error: unknown): string {
  return error instanceof Error ? error.message.split("\n").slice(0, 3).join(" / ") : String(error);
}

async function measure(what: string, run: () => Promise<number[]>): Promise<Figure> {
  try {
    const samples = await run();
    if (samples.length === 0 || samples.some((s) => !Number.isFinite(s))) {
      return { error: `${what} gave no finite samples` };
    }
    return { samples };
  } catch (error) {
    return { error: errorText(error) };
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Ends a child by its pid: SIGTERM, then SIGKILL after `graceMs`. */
async function endChild(child: Deno.ChildProcess, graceMs = 10_000): Promise<void> {
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

function startAgent(config: string): AgentProcess {
  const agent = AgentProcess.start(config);
  children.add(agent.child);
  return agent;
}

async function endAgent(agent: AgentProcess): Promise<void> {
  await endChild(agent.child);
  await agent.close();
}

/** `deno run -q <agent permissions> <script> ...args`, stdout piped. */
function spawnDeno(script: string, args: string[], stdin: "piped" | "null"): Deno.ChildProcess {
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

/** Collects a child's stdout and stderr; `line()` waits for the next stdout line. */
class ChildOutput {
  readonly stdout: string[] = [];
  stderr = "";
  #waiters: (() => void)[] = [];
  readonly done: Promise<void>;

  constructor(child: Deno.ChildProcess) {
    const out = (async () => {
      let buffered = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          this.stdout.push(buffered.slice(0, newline));
          buffered = buffered.slice(newline + 1);
          this.#wake();
        }
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
async function cpuSeconds(pid: number, ticksPerSecond: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** VmRSS of a process, in MiB. */
async function rssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!match) throw new Error(`No VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

async function clockTicks(): Promise<number> {
  try {
    const { stdout } = await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output();
    const ticks = Number(new TextDecoder().decode(stdout).trim());
    if (Number.isInteger(ticks) && ticks > 0) return ticks;
  } catch { /* getconf missing */ }
  return 100;
}

// ---------------------------------------------------------------------------------------------
// Agent folders, backlogs, servers

const tempDirs: string[] = [];

async function configuredDir(server: ReferenceServer, label: string) {
  const dir = await Deno.makeTempDir({ prefix: `usm-bench-${label}-` });
  tempDirs.push(dir);
  const config = join(dir, "config.ini");
  await configureAgent(config, server, ["--check-interval", "0"]);
  return { dir, config };
}

function backlogEvent(i: number): SessionEvent {
  return {
    eventType: i % 2 === 0 ? "Lock" : "Unlock",
    userName: `backlog-${i}`,
    computerName: "BENCH-PC",
    ipAddress: "10.0.0.1",
    timestamp: Temporal.Instant.from("2025-04-27T00:00:00Z").add({ seconds: i }).toString(),
  };
}

/** Writes event_log.csv with `count` pending rows (removing any earlier journal files). */
async function writeBacklog(dir: string, count: number): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (/^event_log.*\.csv/.test(entry.name)) await Deno.remove(join(dir, entry.name));
  }
  const rows = [JOURNAL_HEADER + "\n"];
  for (let i = 0; i < count; i++) rows.push(rowText(backlogEvent(i), 0));
  await Deno.writeTextFile(join(dir, "event_log.csv"), rows.join(""));
}

/** Hands each log_event request the servers see to whoever waits for the next one. */
class Arrivals {
  #waiters: ((record: RequestRecord) => void)[] = [];

  hook = (record: RequestRecord): void => {
    if (record.path !== EVENT_PATH) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve(record);
  };

  /** The next log_event request to arrive. */
  next(timeoutMs = 20_000): Promise<RequestRecord> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`No request reached ${EVENT_PATH} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (record: RequestRecord) => {
        clearTimeout(timer);
        resolve(record);
      };
      this.#waiters.push(waiter);
    });
  }
}

function eventRecords(server: ReferenceServer): RequestRecord[] {
  return server.requests().filter((r) => r.path === EVENT_PATH);
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface StartUp {
  agent: Figure;
  baseline: Figure;
}

async function measureStartUp(plan: Plan, server: ReferenceServer): Promise<StartUp> {
  const { config } = await configuredDir(server, "start");
  const agentRun = async () => {
    const t0 = performance.now();
    const agent = startAgent(config);
    try {
      await agent.ready();
      return performance.now() - t0;
    } finally {
      await endAgent(agent);
    }
  };
  const baselineRun = async () => {
    const t0 = performance.now();
    const child = spawnDeno(HELLO_SCRIPT, [], "null");
    const output = new ChildOutput(child);
    try {
      await output.lines(1, 30_000);
      return performance.now() - t0;
    } finally {
      await endChild(child);
      await output.done;
    }
  };
  // One unmeasured run of each warms the module cache and the page cache.
  const agentSamples: number[] = [];
  const baselineSamples: number[] = [];
  const agent = await measure("start-up", async () => {
    await agentRun();
    for (let i = 0; i < plan.startRuns; i++) agentSamples.push(await agentRun());
    return agentSamples;
  });
  const baseline = await measure("bare start-up", async () => {
    await baselineRun();
    for (let i = 0; i < plan.startRuns; i++) baselineSamples.push(await baselineRun());
    return baselineSamples;
  });
  return { agent, baseline };
}

interface Idle {
  rss: Figure;
  rssBaseline: Figure;
  cpu: Figure;
  cpuBaseline: Figure;
}

async function measureIdle(plan: Plan, server: ReferenceServer, ticks: number): Promise<Idle> {
  const agents: AgentProcess[] = [];
  const bases: { child: Deno.ChildProcess; output: ChildOutput }[] = [];
  const fail = (error: unknown): Idle => {
    const figure = { error: errorText(error) };
    return { rss: figure, rssBaseline: figure, cpu: figure, cpuBaseline: figure };
  };
  try {
    const dirs = [];
    for (let i = 0; i < plan.idlePairs; i++) dirs.push(await configuredDir(server, "idle"));
    for (const { config } of dirs) {
      agents.push(startAgent(config));
      const child = spawnDeno(IDLE_SCRIPT, [], "null");
      bases.push({ child, output: new ChildOutput(child) });
    }
    // Idle starts once the agent's start-up health check is done (no other check follows:
    // health_check_interval is 0).
    await Promise.all([
      ...agents.map((a) => a.waitForLine(/Health check \(start\) (passed|failed)/, 30_000)),
      ...bases.map((b) => b.output.lines(1, 30_000)),
    ]);
    await sleep(1_000);
    const eventsBefore = eventRecords(server).length;
    const pids = [...agents.map((a) => a.pid), ...bases.map((b) => b.child.pid)];
    const before = await Promise.all(pids.map((pid) => cpuSeconds(pid, ticks)));
    const t0 = performance.now();
    await sleep(plan.idleMs);
    const after = await Promise.all(pids.map((pid) => cpuSeconds(pid, ticks)));
    const elapsed = performance.now() - t0;
    const rss = await Promise.all(pids.map((pid) => rssMiB(pid)));
    // CPU seconds per 60 s of wall time (scaled when --quick measures less).
    const cpu = after.map((a, i) => (a - before[i]) * 60_000 / elapsed);
    const n = agents.length;
    if (eventRecords(server).length > eventsBefore) {
      throw new Error("An idle agent sent events: the idle figures are not idle");
    }
    return {
      rss: { samples: rss.slice(0, n) },
      rssBaseline: { samples: rss.slice(n) },
      cpu: { samples: cpu.slice(0, n) },
      cpuBaseline: { samples: cpu.slice(n) },
    };
  } catch (error) {
    return fail(error);
  } finally {
    await Promise.all([
      ...agents.map((a) => endAgent(a)),
      ...bases.map(async (b) => {
        await endChild(b.child);
        await b.output.done;
      }),
    ]);
  }
}

interface Latency {
  agentP50: Figure;
  agentP99: Figure;
  transportP50: Figure;
  transportP99: Figure;
  fetchP50: Figure;
  fetchP99: Figure;
}

let changeCounter = 0;

/** A session change with a time of its own (so the server never sees a duplicate). */
function nextChange(): Record<string, unknown> {
  const n = changeCounter++;
  const at = Temporal.Instant.from("2025-06-01T00:00:00Z").add({ seconds: n }).toString();
  return { type: n % 2 === 0 ? "lock" : "unlock", user: `latency-${n}`, session: 2, at };
}

/**
 * Writes `events` session changes with `send`, one at a time, each after the previous one
 * reached the server, and returns the latencies in ms (write to arrival). `warmUp` changes go
 * first, unmeasured.
 */
async function latencies(
  arrivals: Arrivals,
  events: number,
  send: (line: string) => Promise<void>,
  warmUp = LATENCY_WARM_UP,
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < warmUp + events; i++) {
    const line = JSON.stringify(nextChange()) + "\n";
    const arrived = arrivals.next();
    const t0 = now();
    await send(line);
    const record = await arrived;
    if (i >= warmUp) samples.push(record.receivedAt - t0);
  }
  return samples;
}

async function bareLatency(
  arrivals: Arrivals,
  events: number,
  args: string[],
): Promise<number[]> {
  const child = spawnDeno(BARE_CLIENT, [...args, "--mode", "lines"], "piped");
  const output = new ChildOutput(child);
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  try {
    return await latencies(arrivals, events, (line) => writer.write(encoder.encode(line)));
  } catch (error) {
    throw new Error(`${errorText(error)}; bare client said: ${output.stderr.trim().slice(-300)}`);
  } finally {
    await writer.close().catch(() => {});
    await endChild(child);
    await output.done;
  }
}

async function measureLatency(
  plan: Plan,
  server: ReferenceServer,
  fetchServer: ReferenceServer | undefined,
  caFile: string | undefined,
  arrivals: Arrivals,
): Promise<Latency> {
  const runs = { agent: [] as number[][], transport: [] as number[][], fetch: [] as number[][] };
  const errors: { agent?: string; transport?: string; fetch?: string } = {};
  if (!fetchServer || !caFile) errors.fetch = "the CA-signed server for fetch did not start";
  const { config } = await configuredDir(server, "latency");
  for (let run = 0; run < plan.latencyRuns; run++) {
    if (!errors.agent) {
      const agent = startAgent(config);
      try {
        await agent.waitForLine(/Health check \(start\) passed/, 30_000);
        runs.agent.push(
          await latencies(arrivals, plan.latencyEvents, (line) => agent.feedRaw(line)),
        );
      } catch (error) {
        errors.agent = errorText(error);
      } finally {
        await endAgent(agent);
      }
    }
    if (!errors.transport) {
      try {
        runs.transport.push(
          await bareLatency(arrivals, plan.latencyEvents, [
            "--client",
            "transport",
            "--url",
            server.url,
            "--pin",
            server.certificate!.sha256,
          ]),
        );
      } catch (error) {
        errors.transport = errorText(error);
      }
    }
    if (!errors.fetch) {
      try {
        runs.fetch.push(
          await bareLatency(arrivals, plan.latencyEvents, [
            "--client",
            "fetch",
            "--url",
            fetchServer!.url,
            "--ca",
            caFile!,
          ]),
        );
      } catch (error) {
        errors.fetch = errorText(error);
      }
    }
  }
  const figure = (name: keyof typeof runs, p: number): Figure =>
    errors[name] !== undefined
      ? { error: errors[name]! }
      : { samples: runs[name].map((samples) => percentile(samples, p)) };
  return {
    agentP50: figure("agent", 50),
    agentP99: figure("agent", 99),
    transportP50: figure("transport", 50),
    transportP99: figure("transport", 99),
    fetchP50: figure("fetch", 50),
    fetchP99: figure("fetch", 99),
  };
}

/** Events per second between the first request and the last one, from server records. */
function rateOf(records: RequestRecord[], count: number): number {
  if (records.length < 2) throw new Error(`Only ${records.length} requests reached the server`);
  const span = records[records.length - 1].receivedAt - records[0].receivedAt;
  return (count - 1) / (span / 1000);
}

interface Drain {
  agent: Figure;
  baseline: Figure;
  /** Time from agent spawn to the first request, ms (start-up and backlog load). */
  firstRequestMs: Figure;
}

async function measureDrain(plan: Plan, server: ReferenceServer): Promise<Drain> {
  const { dir, config } = await configuredDir(server, "drain");
  const firstRequest: number[] = [];
  const timeout = Math.max(120_000, plan.drainEvents * 30);
  const agent = await measure("backlog drain", async () => {
    const rates = [];
    for (let run = 0; run < plan.drainRuns; run++) {
      await writeBacklog(dir, plan.drainEvents);
      server.clear();
      const t0 = now();
      const process = startAgent(config);
      try {
        await server.waitFor((stored) => stored.length >= plan.drainEvents, timeout);
        const records = eventRecords(server);
        if (records.length !== plan.drainEvents) {
          throw new Error(
            `${records.length} requests for ${plan.drainEvents} events: some were retried`,
          );
        }
        firstRequest.push(records[0].receivedAt - t0);
        rates.push(rateOf(records, plan.drainEvents));
      } finally {
        await endAgent(process);
      }
    }
    return rates;
  });
  const baseline = await measure("bare loop", async () => {
    const rates = [];
    for (let run = 0; run < plan.drainRuns; run++) {
      server.clear();
      const child = spawnDeno(BARE_CLIENT, [
        "--client",
        "transport",
        "--url",
        server.url,
        "--pin",
        server.certificate!.sha256,
        "--mode",
        "loop",
        "--count",
        String(plan.drainEvents),
      ], "null");
      const output = new ChildOutput(child);
      try {
        await output.lines(1, timeout);
        rates.push(rateOf(eventRecords(server), plan.drainEvents));
      } finally {
        await endChild(child);
        await output.done;
      }
    }
    return rates;
  });
  server.clear();
  return {
    agent,
    baseline,
    firstRequestMs: firstRequest.length > 0
      ? { samples: firstRequest }
      : { error: "no drain completed" },
  };
}

interface LimitedDrain {
  seconds: Figure;
  /** The most 429s in any one window of a run. */
  max429PerWindow: Figure;
  windows: Figure;
  total429: Figure;
  /** Median wait beyond each window's real end before the next window's first request, ms. */
  lateMs: Figure;
}

/** The reference server's fixed windows, rebuilt from its request records. */
function windowsOf(
  records: RequestRecord[],
  windowMs: number,
): { count: number; max429: number; lateMs: number } {
  let start = -Infinity;
  let count = 0;
  let current = 0;
  let max429 = 0;
  const late: number[] = [];
  for (const record of records) {
    if (record.receivedAt > start + windowMs) {
      if (count > 0) late.push(record.receivedAt - (start + windowMs));
      start = record.receivedAt;
      count++;
      current = 0;
    }
    if (record.status === 429) max429 = Math.max(max429, ++current);
  }
  return { count, max429, lateMs: median(late) };
}

async function measureLimitedDrain(plan: Plan): Promise<LimitedDrain> {
  const servers: ReferenceServer[] = [];
  const agents: AgentProcess[] = [];
  try {
    // One server per run (each its own rate-limit window), the runs side by side: they sleep
    // most of the time, so they barely disturb each other.
    for (let i = 0; i < plan.limitedRuns; i++) {
      servers.push(
        await ReferenceServer.start({
          apiKeys: [TEST_API_KEY],
          rateLimit: RATE_LIMIT,
          certBits: 2048,
          now,
        }),
      );
    }
    const dirs = [];
    for (const server of servers) {
      const prepared = await configuredDir(server, "limited");
      await writeBacklog(prepared.dir, plan.limitedEvents);
      server.clear();
      dirs.push(prepared);
    }
    const bound = plan.limitedEvents / RATE_LIMIT.limit * RATE_LIMIT.windowMs;
    for (const { config } of dirs) agents.push(startAgent(config));
    const results = await Promise.all(servers.map(async (server) => {
      await server.waitFor(
        (stored) => stored.length >= plan.limitedEvents,
        3 * bound + 60_000,
      );
      const records = eventRecords(server);
      const stored = records.filter((r) => r.status === 201 || r.status === 200);
      const seconds = (stored[stored.length - 1].receivedAt - records[0].receivedAt) / 1000;
      const { count, max429, lateMs } = windowsOf(records, RATE_LIMIT.windowMs);
      return {
        seconds,
        windows: count,
        max429,
        lateMs,
        total429: server.count(429, EVENT_PATH),
      };
    }));
    return {
      seconds: { samples: results.map((r) => r.seconds) },
      max429PerWindow: { samples: results.map((r) => r.max429) },
      windows: { samples: results.map((r) => r.windows) },
      total429: { samples: results.map((r) => r.total429) },
      lateMs: { samples: results.map((r) => r.lateMs) },
    };
  } catch (error) {
    const figure = { error: errorText(error) };
    return {
      seconds: figure,
      max429PerWindow: figure,
      windows: figure,
      total429: figure,
      lateMs: figure,
    };
  } finally {
    await Promise.all(agents.map((a) => endAgent(a)));
    await Promise.all(servers.map((s) => s.stop()));
  }
}

interface JournalFigures {
  append: Figure;
  setStatus: Figure;
  baseline: Figure;
  rowBytes: number;
}

async function measureJournal(plan: Plan): Promise<JournalFigures> {
  const sample = rowText(backlogEvent(plan.journalOps), 0);
  const rowBytes = new TextEncoder().encode(sample).length;
  const appendRates: number[] = [];
  const statusRates: number[] = [];
  const journal = await measure("journal", async () => {
    for (let run = 0; run < plan.journalRuns; run++) {
      const dir = await Deno.makeTempDir({ prefix: "usm-bench-journal-" });
      tempDirs.push(dir);
      const opened = await Journal.open(join(dir, "event_log.csv"), { rotationSizeBytes: 0 });
      try {
        const entries: JournalEntry[] = [];
        let t0 = performance.now();
        for (let i = 0; i < plan.journalOps; i++) {
          entries.push(await opened.append(backlogEvent(plan.journalOps + i)));
        }
        appendRates.push(plan.journalOps / ((performance.now() - t0) / 1000));
        t0 = performance.now();
        for (const entry of entries) await opened.setStatus(entry, 1);
        statusRates.push(plan.journalOps / ((performance.now() - t0) / 1000));
      } finally {
        await opened.close();
      }
    }
    return appendRates;
  });
  const baseline = await measure("write + fdatasync", async () => {
    const rates = [];
    const bytes = new TextEncoder().encode(sample);
    for (let run = 0; run < plan.journalRuns; run++) {
      const dir = await Deno.makeTempDir({ prefix: "usm-bench-fsync-" });
      tempDirs.push(dir);
      const file = await Deno.open(join(dir, "rows.csv"), { write: true, create: true });
      try {
        const t0 = performance.now();
        for (let i = 0; i < plan.journalOps; i++) {
          let written = 0;
          while (written < bytes.length) written += await file.write(bytes.subarray(written));
          await file.syncData();
        }
        rates.push(plan.journalOps / ((performance.now() - t0) / 1000));
      } finally {
        file.close();
      }
    }
    return rates;
  });
  return {
    append: journal,
    setStatus: "error" in journal ? journal : { samples: statusRates },
    baseline,
    rowBytes,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

async function machine(): Promise<string[]> {
  let cpu = "unknown";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = info.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? cpu;
  } catch { /* not Linux */ }
  const memory = Deno.systemMemoryInfo();
  return [
    `- nproc: ${navigator.hardwareConcurrency}; CPU: ${cpu}; memory: ${
      round(memory.total / 2 ** 30)
    } GiB`,
    `- deno ${Deno.version.deno} (V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript}); ${Deno.build.target}`,
  ];
}

function row(figure: string, agent: Figure, baseline: Figure, unit: string, how: string) {
  return `| ${figure} | ${describeFigure(agent, unit)} | ${describeFigure(baseline, unit)} | ${
    ratio(agent, baseline)
  } | ${how} |`;
}

function verdict(
  name: string,
  check: () => { met: boolean; detail: string },
): string {
  try {
    const { met, detail } = check();
    return `- ${met ? "MET" : "MISSED"}: ${name}: ${detail}`;
  } catch (error) {
    return `- NOT CHECKED: ${name}: ${errorText(error)}`;
  }
}

function medianOf(figure: Figure): number {
  if ("error" in figure) throw new Error(`not measured (${figure.error})`);
  return median(figure.samples);
}

function maxOf(figure: Figure): number {
  if ("error" in figure) throw new Error(`not measured (${figure.error})`);
  return Math.max(...figure.samples);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: { quick: { type: "boolean" } },
  });
  const plan = values.quick ? QUICK : FULL;
  const began = performance.now();
  const progress = (what: string) =>
    console.error(`[bench ${((performance.now() - began) / 1000).toFixed(0)} s] ${what}`);
  const ticks = await clockTicks();
  const arrivals = new Arrivals();
  let server: ReferenceServer | undefined;
  let fetchServer: ReferenceServer | undefined;
  let caFile: string | undefined;
  const stopSignal = () => {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", stopSignal);
  try {
    progress("starting the reference server doubles (2048-bit certificates)");
    server = await ReferenceServer.start({
      apiKeys: [TEST_API_KEY],
      rateLimit: null,
      certBits: 2048,
      now,
      onRequest: arrivals.hook,
    });
    try {
      fetchServer = await ReferenceServer.start({
        apiKeys: [TEST_API_KEY],
        rateLimit: null,
        tls: "ca-signed",
        certBits: 2048,
        now,
        onRequest: arrivals.hook,
      });
      const dir = await Deno.makeTempDir({ prefix: "usm-bench-ca-" });
      tempDirs.push(dir);
      caFile = join(dir, "ca.pem");
      await Deno.writeTextFile(caFile, fetchServer.certificate!.caPem!);
    } catch (error) {
      progress(`no CA-signed server for the fetch baseline: ${errorText(error)}`);
    }

    progress(`start-up: ${plan.startRuns} runs of each`);
    const startUp = await measureStartUp(plan, server);
    progress(
      `idle: ${plan.idlePairs} agents and ${plan.idlePairs} bare scripts for ${
        plan.idleMs / 1000
      } s`,
    );
    const idle = await measureIdle(plan, server, ticks);
    progress(`event latency: ${plan.latencyRuns} runs of ${plan.latencyEvents} events each`);
    const latency = await measureLatency(plan, server, fetchServer, caFile, arrivals);
    progress(`backlog drain: ${plan.drainRuns} runs of ${plan.drainEvents} events`);
    const drain = await measureDrain(plan, server);
    const bound = plan.limitedEvents / RATE_LIMIT.limit * RATE_LIMIT.windowMs / 1000;
    progress(`rate-limited drain: ${plan.limitedRuns} runs side by side, ~${bound} s`);
    const limited = await measureLimitedDrain(plan);
    progress(`journal: ${plan.journalRuns} runs of ${plan.journalOps} operations`);
    const journal = await measureJournal(plan);
    const elapsed = (performance.now() - began) / 1000;

    const boundFigure: Figure = { samples: [bound] };
    const lines = [
      `## Benchmark${values.quick ? " (--quick: shortened, figures are rough)" : ""}`,
      "",
      ...await machine(),
      `- whole bench: ${round(elapsed)} s`,
      "",
      "Each cell: median (min–max, runs). Agent = `mod.ts --service run --simulate -` in its own",
      "process; servers = the reference server double on 127.0.0.1 (HTTPS, 2048-bit certificate).",
      "",
      "| figure | agent | baseline in the same run | agent/baseline | how |",
      "|---|---|---|---|---|",
      row(
        "start-up",
        startUp.agent,
        startUp.baseline,
        "ms",
        "spawn to the `Agent ready` line; baseline: bare `deno run` of a script printing one line (same permissions)",
      ),
      row(
        "idle memory",
        idle.rss,
        idle.rssBaseline,
        "MiB",
        `VmRSS after ${
          plan.idleMs / 1000
        } s idle (health checks off); baseline: bare \`deno run\` of a setInterval no-op, side by side`,
      ),
      row(
        "idle CPU",
        idle.cpu,
        idle.cpuBaseline,
        "s/min",
        `utime+stime from /proc/<pid>/stat over ${
          plan.idleMs / 1000
        } s idle, scaled to one minute (resolution 1/${ticks} s); same baseline`,
      ),
      row(
        "event latency p50",
        latency.agentP50,
        latency.transportP50,
        "ms",
        `stdin write to request arrival, ${plan.latencyEvents} events one at a time after ${LATENCY_WARM_UP} unmeasured; baseline: bare loop, Transport with pinning, one reused connection`,
      ),
      row(
        "event latency p99",
        latency.agentP99,
        latency.transportP99,
        "ms",
        "same; baseline: the same bare Transport loop",
      ),
      row(
        "event latency p50 vs fetch",
        latency.agentP50,
        latency.fetchP50,
        "ms",
        "same; baseline: bare loop of plain `fetch` (CA-signed double, `Deno.createHttpClient` caCerts)",
      ),
      row(
        "event latency p99 vs fetch",
        latency.agentP99,
        latency.fetchP99,
        "ms",
        "same; baseline: the same `fetch` loop",
      ),
      row(
        "backlog drain, unlimited server",
        drain.agent,
        drain.baseline,
        "events/s",
        `${plan.drainEvents} pending rows in event_log.csv, first request to last stored; baseline: bare Transport loop of as many requests`,
      ),
      row(
        "drain: spawn to first request",
        drain.firstRequestMs,
        startUp.baseline,
        "ms",
        `start-up with ${plan.drainEvents} pending rows, health check included; baseline: bare \`deno run\` start-up`,
      ),
      row(
        "backlog drain, rate-limited server",
        limited.seconds,
        boundFigure,
        "s",
        `${plan.limitedEvents} pending rows, limit ${RATE_LIMIT.limit} per ${
          RATE_LIMIT.windowMs / 1000
        } s, first request to last stored; baseline: the bound ${plan.limitedEvents} / ${RATE_LIMIT.limit} × ${
          RATE_LIMIT.windowMs / 1000
        } s`,
      ),
      row(
        "rate-limited: most 429s in a window",
        limited.max429PerWindow,
        { samples: [0] },
        "",
        "windows rebuilt from the double's records (window starts at its first request)",
      ),
      row(
        "rate-limited: windows used",
        limited.windows,
        { samples: [Math.ceil(plan.limitedEvents / RATE_LIMIT.limit)] },
        "",
        "fixed windows that saw a request; baseline: the fewest possible",
      ),
      row(
        "rate-limited: 429s in all",
        limited.total429,
        { samples: [0] },
        "",
        "429 answers to log_event over the whole drain",
      ),
      row(
        "rate-limited: idle past each window end",
        limited.lateMs,
        { samples: [0] },
        "ms",
        "median gap between a window's real end and the next window's first request (X-RateLimit-Reset is floored to the second, so a client that trusts only it waits up to 1 s too long); the floor of the drain is (windows − 1) × window + send time",
      ),
      row(
        "journal append",
        journal.append,
        journal.baseline,
        "rows/s",
        `Journal.append (fdatasync'd), ${plan.journalOps} rows of ${journal.rowBytes} bytes, temp dir; baseline: write + fdatasync of rows of the same size`,
      ),
      row(
        "journal setStatus",
        journal.setStatus,
        journal.baseline,
        "rows/s",
        "Journal.setStatus (1-byte positional write + fdatasync) of the same rows; same baseline",
      ),
      "",
      "Targets:",
      verdict("rate-limited drain within 10% of its bound, at most one 429 per window", () => {
        const seconds = medianOf(limited.seconds);
        const worst = maxOf(limited.max429PerWindow);
        return {
          met: seconds <= 1.1 * bound && worst <= 1,
          detail: `median ${round(seconds)} s against ${round(1.1 * bound)} s (bound ${
            round(bound)
          } s + 10%), at most ${worst} 429s in a window`,
        };
      }),
      verdict("event latency p99 within 2× the bare loop", () => {
        const agent = medianOf(latency.agentP99);
        const bare = medianOf(latency.transportP99);
        return {
          met: agent <= 2 * bare,
          detail: `p99 ${round(agent)} ms against 2 × ${round(bare)} ms = ${
            round(2 * bare)
          } ms (bare Transport loop)`,
        };
      }),
      verdict("idle CPU below 0.5 s per minute", () => {
        const cpu = medianOf(idle.cpu);
        return { met: cpu < 0.5, detail: `median ${round(cpu)} s per minute` };
      }),
    ];
    console.log(lines.join("\n"));
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", stopSignal);
    for (const child of [...children]) await endChild(child, 2_000);
    await server?.stop();
    await fetchServer?.stop();
    for (const dir of tempDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main());
