/**
 * `deno task bench`: measures the agent (a real `mod.ts --service run --simulate -` process)
 * against the reference server double on 127.0.0.1, each figure beside a baseline measured in
 * the same run on the same machine, and prints one Markdown table and the targets.
 *
 * Usage: deno run -A scripts/bench.ts [--quick]
 * `--quick` shortens every measurement (a smoke run, about a minute); figures are then rough.
 *
 * `--journal-size [--sizes 1000,10000,...] [--held 10000,...] [--runs N]` runs only the
 * journal-size table (scripts/bench/journal_size.ts): agents started on journals of 1k to 3M
 * rows, and backlogs behind an event the server always fails.
 *
 * Every child process is ended by its pid (SIGTERM, then SIGKILL) in a finally block.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { SessionEvent } from "../src/event.ts";
import { Journal, JOURNAL_HEADER, type JournalEntry, rowText } from "../src/journal/journal.ts";
import { type AgentProcess, configureAgent } from "../tests/support/agent_process.ts";
import { TEST_API_KEY } from "../tests/support/files.ts";
import { ReferenceServer, type RequestRecord } from "../tests/support/reference_server.ts";
import {
  EVENT_PATH,
  FULL,
  LATENCY_WARM_UP,
  limitedBoundSeconds,
  type Plan,
  QUICK,
  RATE_LIMITS,
  type RateLimit,
} from "./bench/plan.ts";
import {
  ChildOutput,
  children,
  clockTicks,
  cpuSeconds,
  endAgent,
  endChild,
  killChildren,
  rssMiB,
  sleep,
  spawnDeno,
  startAgent,
} from "./bench/processes.ts";
import {
  type Drain,
  type Idle,
  type JournalFigures,
  type Latency,
  type LimitedDrain,
  report,
  type Results,
  type StartUp,
} from "./bench/report.ts";
import { briefErrorText, type Figure, measure, median, percentile } from "./bench/stats.ts";
import { measureJournalSizes, sizeReport } from "./bench/journal_size.ts";

const BARE_CLIENT = fileURLToPath(new URL("./bench/bare_client.ts", import.meta.url));
const IDLE_SCRIPT = fileURLToPath(new URL("./bench/idle.ts", import.meta.url));
const HELLO_SCRIPT = fileURLToPath(new URL("./bench/hello.ts", import.meta.url));

/** Epoch milliseconds with sub-millisecond precision: the servers' clock and the bench's. */
const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------
// Agent folders, backlogs, servers

const tempDirs: string[] = [];

/**
 * A configured agent folder for `server`. `serverRateLimit` is written to config.ini as the
 * administrator of a server without a limiter would (default `0`: none); the rate-limited
 * drains leave the agent's default (60/60, the server's default) by passing null.
 */
async function configuredDir(
  server: ReferenceServer,
  label: string,
  serverRateLimit: string | null = "0",
) {
  const dir = await Deno.makeTempDir({ prefix: `usm-bench-${label}-` });
  tempDirs.push(dir);
  const config = join(dir, "config.ini");
  await configureAgent(config, server, ["--check-interval", "0"]);
  if (serverRateLimit !== null) {
    const text = await Deno.readTextFile(config);
    await Deno.writeTextFile(
      config,
      text.replace(/^server_rate_limit = .*/m, `server_rate_limit = ${serverRateLimit}`),
    );
  }
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

async function measureIdle(plan: Plan, server: ReferenceServer, ticks: number): Promise<Idle> {
  const agents: AgentProcess[] = [];
  const bases: { child: Deno.ChildProcess; output: ChildOutput }[] = [];
  const fail = (error: unknown): Idle => {
    const figure = { error: briefErrorText(error) };
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
    throw new Error(
      `${briefErrorText(error)}; bare client said: ${output.stderr.trim().slice(-300)}`,
    );
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
        errors.agent = briefErrorText(error);
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
        errors.transport = briefErrorText(error);
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
        errors.fetch = briefErrorText(error);
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

async function measureLimitedDrain(plan: Plan, rate: RateLimit): Promise<LimitedDrain> {
  const servers: ReferenceServer[] = [];
  const agents: AgentProcess[] = [];
  try {
    // One server per run (each its own rate-limit window), the runs side by side: they sleep
    // most of the time, so they barely disturb each other.
    for (let i = 0; i < plan.limitedRuns; i++) {
      servers.push(
        await ReferenceServer.start({
          apiKeys: [TEST_API_KEY],
          rateLimit: rate,
          certBits: 2048,
          now,
        }),
      );
    }
    const dirs = [];
    for (const server of servers) {
      const prepared = await configuredDir(server, "limited", null);
      await writeBacklog(prepared.dir, plan.limitedEvents);
      server.clear();
      dirs.push(prepared);
    }
    const bound = plan.limitedEvents / rate.limit * rate.windowMs;
    for (const { config } of dirs) agents.push(startAgent(config));
    const results = await Promise.all(servers.map(async (server) => {
      await server.waitFor(
        (stored) => stored.length >= plan.limitedEvents,
        3 * bound + 60_000,
      );
      const records = eventRecords(server);
      const stored = records.filter((r) => r.status === 201 || r.status === 200);
      const seconds = (stored[stored.length - 1].receivedAt - records[0].receivedAt) / 1000;
      const { count, max429, lateMs } = windowsOf(records, rate.windowMs);
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
    const figure = { error: briefErrorText(error) };
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
// The run

/** The reference server doubles of the run; each set once started, for the final stop. */
interface Servers {
  /** The server every measurement but the rate-limited drain uses (reference certificate). */
  server?: ReferenceServer;
  /** The CA-signed server of the `fetch` baseline, and its CA file. */
  fetchServer?: ReferenceServer;
  caFile?: string;
}

/** Starts the servers; without the CA-signed one the `fetch` baseline is left out. */
async function startServers(
  servers: Servers,
  arrivals: Arrivals,
  progress: (what: string) => void,
): Promise<ReferenceServer> {
  // Production-like servers that keep connections open, as before the double learnt the
  // legacy server's `Connection: close`; the rate-limited drains use the legacy default.
  const server = await ReferenceServer.start({
    apiKeys: [TEST_API_KEY],
    rateLimit: null,
    certBits: 2048,
    keepAlive: true,
    now,
    onRequest: arrivals.hook,
  });
  servers.server = server;
  try {
    servers.fetchServer = await ReferenceServer.start({
      apiKeys: [TEST_API_KEY],
      rateLimit: null,
      keepAlive: true,
      tls: "ca-signed",
      certBits: 2048,
      now,
      onRequest: arrivals.hook,
    });
    const dir = await Deno.makeTempDir({ prefix: "usm-bench-ca-" });
    tempDirs.push(dir);
    servers.caFile = join(dir, "ca.pem");
    await Deno.writeTextFile(servers.caFile, servers.fetchServer.certificate!.caPem!);
  } catch (error) {
    progress(`no CA-signed server for the fetch baseline: ${briefErrorText(error)}`);
  }
  return server;
}

/** Every measurement, one after the other, each announced on stderr. */
async function runScenarios(
  plan: Plan,
  servers: Servers & { server: ReferenceServer },
  { ticks, arrivals, progress }: {
    ticks: number;
    arrivals: Arrivals;
    progress: (what: string) => void;
  },
): Promise<Results> {
  const { server, fetchServer, caFile } = servers;
  progress(`start-up: ${plan.startRuns} runs of each`);
  const startUp = await measureStartUp(plan, server);
  progress(
    `idle: ${plan.idlePairs} agents and ${plan.idlePairs} bare scripts for ${plan.idleMs / 1000} s`,
  );
  const idle = await measureIdle(plan, server, ticks);
  progress(`event latency: ${plan.latencyRuns} runs of ${plan.latencyEvents} events each`);
  const latency = await measureLatency(plan, server, fetchServer, caFile, arrivals);
  progress(`backlog drain: ${plan.drainRuns} runs of ${plan.drainEvents} events`);
  const drain = await measureDrain(plan, server);
  const bound = limitedBoundSeconds(plan, RATE_LIMITS.default);
  progress(
    `rate-limited drains (default and lower limit): ${plan.limitedRuns} runs of each side by side, ~${bound} s`,
  );
  const [atDefault, atLower] = await Promise.all([
    measureLimitedDrain(plan, RATE_LIMITS.default),
    measureLimitedDrain(plan, RATE_LIMITS.lower),
  ]);
  const limited = { default: atDefault, lower: atLower };
  progress(`journal: ${plan.journalRuns} runs of ${plan.journalOps} operations`);
  const journal = await measureJournal(plan);
  return { startUp, idle, latency, drain, limited, journal };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      quick: { type: "boolean" },
      "journal-size": { type: "boolean" },
      sizes: { type: "string" },
      held: { type: "string" },
      runs: { type: "string" },
    },
  });
  const plan = values.quick ? QUICK : FULL;
  const began = performance.now();
  const progress = (what: string) =>
    console.error(`[bench ${((performance.now() - began) / 1000).toFixed(0)} s] ${what}`);
  const ticks = await clockTicks();
  const arrivals = new Arrivals();
  const servers: Servers = {};
  const stopSignal = () => {
    killChildren();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", stopSignal);
  try {
    progress("starting the reference server doubles (2048-bit certificates)");
    const server = await startServers(servers, arrivals, progress);
    if (values["journal-size"]) {
      const list = (text: string | undefined, fallback: number[]) =>
        text === undefined ? fallback : text.split(",").map(Number);
      const figures = await measureJournalSizes(server, {
        sizes: list(values.sizes, [1_000, 10_000, 100_000, 1_000_000, 3_000_000]),
        heldPendings: list(values.held, [10_000, 50_000, 100_000]),
        runs: Number(values.runs ?? (values.quick ? 1 : 3)),
        window: values.quick ? 500 : 2_000,
        progress,
        tempDir: async () => {
          const dir = await Deno.makeTempDir({ prefix: "usm-bench-size-" });
          tempDirs.push(dir);
          return dir;
        },
      });
      console.log(sizeReport(figures));
      return 0;
    }
    const results = await runScenarios(plan, { ...servers, server }, { ticks, arrivals, progress });
    const elapsedSeconds = (performance.now() - began) / 1000;
    console.log(
      await report(results, { plan, quick: values.quick === true, elapsedSeconds, ticks }),
    );
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", stopSignal);
    for (const child of [...children]) await endChild(child, 2_000);
    await servers.server?.stop();
    await servers.fetchServer?.stop();
    for (const dir of tempDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main());
