/**
 * `deno task bench:close`: how fast one real agent process sends a burst of events to the
 * reference double served as the real server's legacy mode (`Connection: close` after every
 * answer: a new connection, so a TLS handshake, per request) and as a production server that
 * keeps the connection open. Events/s from the first to the last event the double stored.
 *
 * Usage: deno run -A scripts/bench/close_drain.ts [--events 300] [--runs 3]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { agentDir, TEST_API_KEY } from "../../tests/support/files.ts";
import { writeAgentConfig } from "../../tests/support/hostile_server.ts";
import { ReferenceServer } from "../../tests/support/reference_server.ts";
import { endAgent, killChildren, startAgent } from "./processes.ts";
import { median } from "./stats.ts";

/** Events/s of one burst of `events` events, the double keeping connections open or not. */
export async function drainRate(events: number, keepAlive: boolean): Promise<number> {
  const server = await ReferenceServer.start({
    apiKeys: [TEST_API_KEY],
    rateLimit: null,
    keepAlive,
    certBits: 2048,
  });
  const { dir, config } = await agentDir("usm-bench-close-");
  await writeAgentConfig(config, { url: server.url, sha256: server.certificate!.sha256 }, {
    server_rate_limit: "0",
  });
  const agent = startAgent(config);
  try {
    await agent.ready(60_000);
    await agent.feed(
      ...Array.from({ length: events }, (_, i) => ({
        type: i % 2 === 0 ? "lock" : "unlock",
        user: "josh",
        session: 2,
        at: new Date(Date.UTC(2025, 3, 27, 7, 0, i)).toISOString(),
      })),
    );
    const stored = await server.waitFor((rows) => rows.length >= events, 10 * 60_000);
    const byId = new Map(server.requests().map((r) => [r.id, r.receivedAt]));
    const times = stored.map((s) => byId.get(s.requestId)!);
    return (events - 1) / ((Math.max(...times) - Math.min(...times)) / 1000);
  } finally {
    await endAgent(agent);
    await server.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: { events: { type: "string", default: "300" }, runs: { type: "string", default: "3" } },
  });
  const stop = () => {
    killChildren();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", stop);
  try {
    const rows = [];
    for (const keepAlive of [false, true]) {
      const rates = [];
      for (let run = 0; run < Number(values.runs); run++) {
        rates.push(await drainRate(Number(values.events), keepAlive));
      }
      rows.push(
        `| ${keepAlive ? "kept alive" : "`Connection: close` (legacy)"} | ${
          median(rates).toFixed(0)
        } (${rates.map((r) => r.toFixed(0)).join(", ")}) |`,
      );
    }
    console.log(["| server | events/s, median (runs) |", "|---|---|", ...rows].join("\n"));
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
  }
}

if (import.meta.main) Deno.exit(await main());
