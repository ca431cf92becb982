/**
 * `deno task bench:outage`: a fleet of real agent processes against one reference double that
 * goes down for a while. Each agent records events during the outage (one at its start, then
 * one every `--every` seconds); the double then comes back, and the figures are the time from
 * its return until every event arrived, the spread of the agents' first requests after it, and
 * the peak request rate (requests in any one second, health checks included).
 *
 * Usage: deno run -A scripts/bench/outage.ts [--agents 30] [--outage 120] [--every 30]
 *
 * The double has no rate limit here: the agents all connect from 127.0.0.1, where the real
 * server would count each agent's address apart. Every child is ended by its pid.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { agentDir, TEST_API_KEY } from "../../tests/support/files.ts";
import { writeAgentConfig } from "../../tests/support/hostile_server.ts";
import { ReferenceServer } from "../../tests/support/reference_server.ts";
import type { AgentProcess } from "../../tests/support/agent_process.ts";
import { endAgent, killChildren, sleep, startAgent } from "./processes.ts";
import { median } from "./stats.ts";

/** The figures of one outage. */
export interface OutageFigures {
  agents: number;
  events: number;
  outageSeconds: number;
  /** From the server's return until the last event arrived. */
  allArrivedSeconds: number;
  /** From the server's return until each agent's first request: median and last. */
  firstRequestMedianSeconds: number;
  firstRequestLastSeconds: number;
  /** Most requests the server received in any one second after its return. */
  peakPerSecond: number;
}

/** Runs one outage with `agents` agents; `outageMs` long, an event every `everyMs` during it. */
export async function measureOutage(
  options: { agents: number; outageMs: number; everyMs: number },
  progress: (what: string) => void = () => {},
): Promise<OutageFigures> {
  const server = await ReferenceServer.start({
    apiKeys: [TEST_API_KEY],
    rateLimit: null,
    keepAlive: true,
    certBits: 2048,
  });
  const agents: AgentProcess[] = [];
  const dirs: string[] = [];
  try {
    for (let i = 0; i < options.agents; i++) {
      const { dir, config } = await agentDir("usm-bench-outage-");
      dirs.push(dir);
      await writeAgentConfig(config, { url: server.url, sha256: server.certificate!.sha256 });
      agents.push(startAgent(config));
    }
    await Promise.all(agents.map((a) => a.ready(120_000)));
    await server.waitFor(() => server.count(200, "/api/health") >= options.agents, 120_000);
    progress(
      `${options.agents} agents ready; the server goes down for ${options.outageMs / 1000} s`,
    );
    await server.pause();
    const rounds = Math.max(1, Math.ceil(options.outageMs / options.everyMs));
    for (let round = 0; round < rounds; round++) {
      const at = new Date(Date.UTC(2025, 3, 27, 7, round, 0)).toISOString();
      await Promise.all(
        agents.map((agent, i) =>
          agent.feed({
            type: round % 2 === 0 ? "lock" : "unlock",
            user: `user${i}`,
            session: 2,
            at,
          })
        ),
      );
      await sleep(Math.min(options.everyMs, options.outageMs - round * options.everyMs));
    }
    const events = rounds * options.agents;
    server.clear();
    const returnedAt = Date.now();
    await server.resume();
    progress(`the server is back; waiting for ${events} events`);
    await server.waitFor((stored) => stored.length >= events, 15 * 60_000);
    const records = server.requests();
    const stored = server.stored();
    const byId = new Map(records.map((r) => [r.id, r]));
    const lastStored = Math.max(...stored.map((s) => byId.get(s.requestId)?.receivedAt ?? 0));
    return {
      agents: options.agents,
      events,
      outageSeconds: options.outageMs / 1000,
      allArrivedSeconds: (lastStored - returnedAt) / 1000,
      ...firstRequests(records, returnedAt),
      peakPerSecond: peakPerSecond(records),
    };
  } finally {
    await Promise.all(agents.map((a) => endAgent(a)));
    await server.stop();
    for (const dir of dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function firstRequests(
  records: { receivedAt: number; remotePort: number; body: string }[],
  returnedAt: number,
): { firstRequestMedianSeconds: number; firstRequestLastSeconds: number } {
  const firstByUser = new Map<string, number>();
  for (const record of records) {
    const user = /"UserName":"([^"]+)"/.exec(record.body)?.[1];
    if (user !== undefined && !firstByUser.has(user)) firstByUser.set(user, record.receivedAt);
  }
  const delays = [...firstByUser.values()].map((t) => (t - returnedAt) / 1000);
  return {
    firstRequestMedianSeconds: median(delays),
    firstRequestLastSeconds: Math.max(...delays),
  };
}

function peakPerSecond(records: { receivedAt: number }[]): number {
  const buckets = new Map<number, number>();
  for (const { receivedAt } of records) {
    const second = Math.floor(receivedAt / 1000);
    buckets.set(second, (buckets.get(second) ?? 0) + 1);
  }
  return Math.max(0, ...buckets.values());
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      agents: { type: "string", default: "30" },
      outage: { type: "string", default: "120" },
      every: { type: "string", default: "30" },
    },
  });
  const stop = () => {
    killChildren();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", stop);
  try {
    const figures = await measureOutage({
      agents: Number(values.agents),
      outageMs: Number(values.outage) * 1000,
      everyMs: Number(values.every) * 1000,
    }, (what) => console.error(`[outage] ${what}`));
    console.log(
      [
        "| agents | events | outage | all events arrived after the return | first request after the return (median / last) | peak requests/s |",
        "|---|---|---|---|---|---|",
        `| ${figures.agents} | ${figures.events} | ${figures.outageSeconds} s | ${
          figures.allArrivedSeconds.toFixed(1)
        } s | ${figures.firstRequestMedianSeconds.toFixed(1)} s / ${
          figures.firstRequestLastSeconds.toFixed(1)
        } s | ${figures.peakPerSecond} |`,
      ].join("\n"),
    );
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
  }
}

if (import.meta.main) Deno.exit(await main());
