/**
 * The report of scripts/bench.ts: the machine, one Markdown table of every figure beside its
 * baseline, and whether the targets were met.
 *
 * @module
 */
import {
  LATENCY_WARM_UP,
  limitedBoundSeconds,
  type Plan,
  RATE_LIMITS,
  type RateLimit,
} from "./plan.ts";
import { briefErrorText, describeFigure, type Figure, median, ratio, round } from "./stats.ts";

export interface StartUp {
  agent: Figure;
  baseline: Figure;
}

export interface Idle {
  rss: Figure;
  rssBaseline: Figure;
  cpu: Figure;
  cpuBaseline: Figure;
}

export interface Latency {
  agentP50: Figure;
  agentP99: Figure;
  transportP50: Figure;
  transportP99: Figure;
  fetchP50: Figure;
  fetchP99: Figure;
}

export interface Drain {
  agent: Figure;
  baseline: Figure;
  /** Time from agent spawn to the first request, ms (start-up and backlog load). */
  firstRequestMs: Figure;
}

export interface LimitedDrain {
  seconds: Figure;
  /** The most 429s in any one window of a run. */
  max429PerWindow: Figure;
  windows: Figure;
  total429: Figure;
  /** Median wait beyond each window's real end before the next window's first request, ms. */
  lateMs: Figure;
}

export interface JournalFigures {
  append: Figure;
  setStatus: Figure;
  baseline: Figure;
  rowBytes: number;
}

/** Every figure of one bench run. */
export interface Results {
  startUp: StartUp;
  idle: Idle;
  latency: Latency;
  drain: Drain;
  /** At the server's default limit (assumed by the agent) and at a lower one (learned). */
  limited: { default: LimitedDrain; lower: LimitedDrain };
  journal: JournalFigures;
}

/** What the report says about the run besides its figures. */
export interface RunInfo {
  plan: Plan;
  /** `--quick` was given. */
  quick: boolean;
  /** How long the whole bench took. */
  elapsedSeconds: number;
  /** Clock ticks per second (the resolution of the CPU figures). */
  ticks: number;
}

/** The whole report, as printed on stdout. */
export async function report(results: Results, run: RunInfo): Promise<string> {
  const lines = [
    `## Benchmark${run.quick ? " (--quick: shortened, figures are rough)" : ""}`,
    "",
    ...await machine(),
    `- whole bench: ${round(run.elapsedSeconds)} s`,
    "",
    "Each cell: median (min–max, runs). Agent = `mod.ts --service run --simulate -` in its own",
    "process; servers = the reference server double on 127.0.0.1 (HTTPS, 2048-bit certificate).",
    "",
    "| figure | agent | baseline in the same run | agent/baseline | how |",
    "|---|---|---|---|---|",
    ...startAndIdleRows(results, run),
    ...latencyRows(results.latency, run.plan),
    ...drainRows(results, run.plan),
    ...journalRows(results.journal, run.plan),
    "",
    "Targets:",
    ...targets(results, run.plan),
  ];
  return lines.join("\n");
}

function startAndIdleRows({ startUp, idle }: Results, { plan, ticks }: RunInfo): string[] {
  return [
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
  ];
}

function latencyRows(latency: Latency, plan: Plan): string[] {
  return [
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
  ];
}

function drainRows({ startUp, drain, limited }: Results, plan: Plan): string[] {
  return [
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
    ...limitedRows("default", limited.default, RATE_LIMITS.default, plan),
    ...limitedRows("lower", limited.lower, RATE_LIMITS.lower, plan),
  ];
}

/** The rows of one rate-limited drain. */
function limitedRows(
  name: string,
  limited: LimitedDrain,
  rate: RateLimit,
  plan: Plan,
): string[] {
  const bound = limitedBoundSeconds(plan, rate);
  const label = `rate-limited (${name}, ${rate.limit} per ${rate.windowMs / 1000} s)`;
  return [
    row(
      `backlog drain, ${label}`,
      limited.seconds,
      { samples: [bound] },
      "s",
      `${plan.limitedEvents} pending rows, the double sends X-RateLimit-* only on 429, first request to last stored; baseline: the bound ${plan.limitedEvents} / ${rate.limit} × ${
        rate.windowMs / 1000
      } s`,
    ),
    row(
      `${label}: 429s in all`,
      limited.total429,
      { samples: [name === "default" ? 0 : 1] },
      "",
      name === "default"
        ? "429 answers to log_event over the whole drain (the agent assumes this limit: none expected)"
        : "429 answers to log_event over the whole drain (the agent learns the limit from the first: one expected)",
    ),
    row(
      `${label}: most 429s in a window`,
      limited.max429PerWindow,
      { samples: [0] },
      "",
      "windows rebuilt from the double's records (window starts at its first request)",
    ),
    row(
      `${label}: windows used`,
      limited.windows,
      { samples: [Math.ceil(plan.limitedEvents / rate.limit)] },
      "",
      "fixed windows that saw a request; baseline: the fewest possible",
    ),
    row(
      `${label}: idle past each window end`,
      limited.lateMs,
      { samples: [0] },
      "ms",
      "median gap between a window's real end and the next window's first request; the floor of the drain is (windows − 1) × window + send time",
    ),
  ];
}

function journalRows(journal: JournalFigures, plan: Plan): string[] {
  return [
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
  ];
}

function targets({ latency, limited, idle }: Results, plan: Plan): string[] {
  return [
    verdict("rate-limited drain at the default limit: within 3% of its bound, no 429", () => {
      const seconds = medianOf(limited.default.seconds);
      const all = maxOf(limited.default.total429);
      const bound = limitedBoundSeconds(plan, RATE_LIMITS.default);
      return {
        met: seconds <= 1.03 * bound && all === 0,
        detail: `median ${round(seconds)} s against ${round(1.03 * bound)} s (bound ${
          round(bound)
        } s + 3%), at most ${all} 429s in a run`,
      };
    }),
    verdict("rate-limited drain at a lower limit: within 3% of its bound, at most one 429", () => {
      const seconds = medianOf(limited.lower.seconds);
      const all = maxOf(limited.lower.total429);
      const bound = limitedBoundSeconds(plan, RATE_LIMITS.lower);
      return {
        met: seconds <= 1.03 * bound && all <= 1,
        detail: `median ${round(seconds)} s against ${round(1.03 * bound)} s (bound ${
          round(bound)
        } s + 3%), at most ${all} 429s in a run`,
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
}

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
    return `- NOT CHECKED: ${name}: ${briefErrorText(error)}`;
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
