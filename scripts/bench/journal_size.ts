/**
 * The journal-size part of `deno task bench` (`--journal-size` runs only this part): real agent
 * processes started on an event_log.csv of 1k to 3M rows, 10% of them pending (the newest), and
 * on a backlog behind an event the server always fails. Every figure is read from the outside:
 * the `Agent ready` line, the double's request records, /proc/<pid>/status.
 *
 * The backlog is what a workstation writes: 200 users, each row a second after the previous one,
 * every user's last event a Logoff (so the start infers nothing and appends nothing).
 *
 * @module
 */
import { join } from "node:path";
import { JOURNAL_HEADER, rowText } from "../../src/journal/journal.ts";
import type { SessionEvent } from "../../src/event.ts";
import { configureAgent } from "../../tests/support/agent_process.ts";
import type { ReferenceServer, RequestRecord } from "../../tests/support/reference_server.ts";
import { endAgent, sleep, startAgent } from "./processes.ts";
import { briefErrorText, describeFigure, type Figure, median } from "./stats.ts";

const EVENT_PATH = "/api/log_event";
const TYPES = ["Logon", "Lock", "Unlock", "Logoff"] as const;
const USERS = 200;
const START = Date.UTC(2024, 0, 1);

/** Row `i` of a journal of `total` rows. */
function sizedEvent(i: number, total: number): SessionEvent {
  const block = Math.floor((total - 1 - i) / USERS) % TYPES.length;
  return {
    eventType: TYPES[TYPES.length - 1 - block],
    userName: `user-${i % USERS}`,
    computerName: "BENCH-PC",
    ipAddress: "10.0.0.1",
    timestamp: new Date(START + i * 1000).toISOString().replace(/\.000Z$/, "Z"),
  };
}

/** An event the server always answers 500 to: a computer name longer than its column. */
function poisonEvent(): SessionEvent {
  return { ...sizedEvent(0, 1), computerName: "X".repeat(60), userName: "poison" };
}

/**
 * Writes event_log.csv in `dir` with `total` rows, the last `pending` of them pending, and
 * `first` (pending) before them when given; written in chunks (a 3M-row file is 150 MB).
 */
async function writeJournal(
  dir: string,
  total: number,
  pending: number,
  first?: SessionEvent,
): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (/^event_log.*\.csv/.test(entry.name)) await Deno.remove(join(dir, entry.name));
  }
  using file = await Deno.open(join(dir, "event_log.csv"), { write: true, create: true });
  const encoder = new TextEncoder();
  let chunk = [JOURNAL_HEADER + "\n"];
  const flush = async () => {
    const bytes = encoder.encode(chunk.join(""));
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    chunk = [];
  };
  for (let i = 0; i < total; i++) {
    if (first && i === total - pending) chunk.push(rowText(first, 0));
    chunk.push(rowText(sizedEvent(i, total), i >= total - pending ? 0 : 1));
    if (chunk.length >= 50_000) await flush();
  }
  await flush();
}

async function procStatus(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (name: string) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))![1]);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

/** What one agent run on a prepared journal shows. */
export interface SizedRun {
  readyMs: number;
  firstRequestMs: number;
  /** Stored events per second over the measured window. */
  rate: number;
  /** VmHWM when the agent said it was ready: what the start cost. */
  readyPeakMiB: number;
  peakMiB: number;
  settledMiB: number;
}

function events(server: ReferenceServer): RequestRecord[] {
  return server.requests().filter((r) => r.path === EVENT_PATH);
}

/**
 * Starts an agent on `config`, waits until `window` events are stored, and reads the figures.
 * `ok` picks the requests that count (a poison event's 500s do not).
 */
async function runAgent(
  config: string,
  server: ReferenceServer,
  window: number,
  timeoutMs: number,
): Promise<SizedRun> {
  server.clear();
  const t0 = performance.timeOrigin + performance.now();
  const agent = startAgent(config);
  let peak = 0;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      peak = Math.max(peak, await procStatus(agent.pid).then((s) => s.peak, () => 0));
      await sleep(100);
    }
  })();
  try {
    await agent.ready(timeoutMs);
    const readyMs = performance.timeOrigin + performance.now() - t0;
    const readyPeakMiB = (await procStatus(agent.pid)).peak;
    await server.waitFor((stored) => stored.length >= window, timeoutMs);
    const records = events(server);
    const stored = records.filter((r) => r.status === 200 || r.status === 201);
    const span = stored[window - 1].receivedAt - stored[0].receivedAt;
    await sleep(1_000);
    const { rss, peak: hwm } = await procStatus(agent.pid);
    return {
      readyMs,
      firstRequestMs: records[0].receivedAt - t0,
      rate: (window - 1) / (span / 1000),
      readyPeakMiB,
      peakMiB: Math.max(peak, hwm),
      settledMiB: rss,
    };
  } finally {
    polling = false;
    await poll;
    await endAgent(agent);
  }
}

/** The rows of the journal-size table. */
export interface SizeFigures {
  sizes: { rows: number; runs: SizedRun[]; error?: string }[];
  held: { pending: number; rate: Figure; without: Figure; error?: string }[];
}

/** Runs the journal-size scenarios against `server` (keep-alive, no rate limit). */
export async function measureJournalSizes(
  server: ReferenceServer,
  options: {
    sizes: number[];
    heldPendings: number[];
    runs: number;
    window: number;
    progress: (what: string) => void;
    tempDir: () => Promise<string>;
  },
): Promise<SizeFigures> {
  const dir = await options.tempDir();
  const config = join(dir, "config.ini");
  await configureAgent(config, server, ["--check-interval", "0"]);
  const text = await Deno.readTextFile(config);
  await Deno.writeTextFile(
    config,
    text.replace(/^server_rate_limit = .*/m, "server_rate_limit = 0"),
  );
  const figures: SizeFigures = { sizes: [], held: [] };
  for (const rows of options.sizes) {
    const runs: SizedRun[] = [];
    let error: string | undefined;
    for (let run = 0; run < options.runs && error === undefined; run++) {
      options.progress(`journal of ${rows} rows, 10% pending: run ${run + 1}`);
      const pending = Math.round(rows / 10);
      await writeJournal(dir, rows, pending);
      try {
        runs.push(await runAgent(config, server, Math.min(options.window, pending), 300_000));
      } catch (e) {
        error = briefErrorText(e);
      }
    }
    figures.sizes.push({ rows, runs, error });
  }
  for (const pending of options.heldPendings) {
    const rates: number[] = [];
    const without: number[] = [];
    let error: string | undefined;
    for (let run = 0; run < options.runs && error === undefined; run++) {
      options.progress(`${pending} pending behind an event the server fails: run ${run + 1}`);
      try {
        await writeJournal(dir, pending, pending, poisonEvent());
        rates.push((await runAgent(config, server, options.window, 300_000)).rate);
        await writeJournal(dir, pending, pending);
        without.push((await runAgent(config, server, options.window, 300_000)).rate);
      } catch (e) {
        error = briefErrorText(e);
      }
    }
    figures.held.push({
      pending,
      rate: { samples: rates },
      without: { samples: without },
      error,
    });
  }
  return figures;
}

/** The journal-size table, in Markdown. */
export function sizeReport(figures: SizeFigures): string {
  const lines = [
    "| rows (10% pending) | ready after | peak RSS at ready | peak RSS | RSS after settling | first request | events/s |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const { rows, runs, error } of figures.sizes) {
    const m = (pick: (r: SizedRun) => number) => median(runs.map(pick));
    lines.push(
      runs.length === 0
        ? `| ${rows.toLocaleString("en")} | failed: ${error} | | | | | |`
        : `| ${rows.toLocaleString("en")} | ${m((r) => r.readyMs).toFixed(0)} ms | ${
          m((r) => r.readyPeakMiB).toFixed(0)
        } MiB | ${m((r) => r.peakMiB).toFixed(0)} MiB | ${
          m((r) => r.settledMiB).toFixed(0)
        } MiB | ${m((r) => r.firstRequestMs).toFixed(0)} ms | ${m((r) => r.rate).toFixed(0)} |` +
          (error ? ` (a later run failed: ${error})` : ""),
    );
  }
  lines.push(
    "",
    "| pending behind a held event | events/s | without it | ratio |",
    "|---|---|---|---|",
  );
  for (const { pending, rate, without, error } of figures.held) {
    const ratio = "samples" in rate && "samples" in without && rate.samples.length > 0
      ? (median(rate.samples) / median(without.samples)).toFixed(2) + "×"
      : `failed: ${error}`;
    lines.push(
      `| ${pending.toLocaleString("en")} | ${describeFigure(rate, "")} | ${
        describeFigure(without, "")
      } | ${ratio} |`,
    );
  }
  return lines.join("\n");
}
