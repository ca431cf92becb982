/**
 * Baseline child of scripts/bench.ts: the bare request loop, with the agent's client stack
 * (src/net/transport.ts, certificate pinned) or plain `fetch` (CA-signed server), and none of the
 * agent's work (no journal, no delivery state).
 *
 * Usage: deno run -A scripts/bench/bare_client.ts --client transport|fetch --url <url>
 * [--pin <sha256> | --ca <pem file>] --mode lines|loop [--count N]
 * The API key is read from USM_BENCH_API_KEY.
 * - `lines`: each stdin line is a session change as the agent's `--simulate -` reads it; it is
 *   posted as the agent would post it, one at a time, until stdin ends.
 * - `loop`: posts `count` distinct events back to back, then prints `done`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { eventBody } from "../../src/delivery/event_answer.ts";
import type { EventType, SessionEvent } from "../../src/event.ts";
import { readLines } from "../../src/text.ts";
import { Transport } from "../../src/net/transport.ts";

const EVENT_PATH = "/api/log_event";

type Post = (body: string) => Promise<number>;

function eventOf(change: { type: string; user: string; at: string }): SessionEvent {
  const type = (change.type[0].toUpperCase() + change.type.slice(1)) as EventType;
  return {
    eventType: type,
    userName: change.user,
    computerName: "BENCH-PC",
    ipAddress: "10.0.0.1",
    timestamp: Temporal.Instant.from(change.at).toString(),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      client: { type: "string" },
      url: { type: "string" },
      pin: { type: "string" },
      ca: { type: "string" },
      mode: { type: "string" },
      count: { type: "string" },
    },
  });
  const url = values.url;
  if (!url) throw new TypeError("Missing --url: give the server's base URL");
  const apiKey = Deno.env.get("USM_BENCH_API_KEY") ?? "";
  const headers = { "X-API-Key": apiKey, "Content-Type": "application/json" };
  let post: Post;
  let close: () => void;
  if (values.client === "fetch") {
    if (!values.ca) throw new TypeError("Missing --ca: fetch needs the CA of the server");
    const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(values.ca)] });
    post = async (body) => {
      const response = await fetch(url + EVENT_PATH, { method: "POST", headers, body, client });
      await response.text();
      return response.status;
    };
    close = () => client.close();
  } else {
    const transport = new Transport(url, { pinSha256: values.pin });
    post = async (body) => (await transport.post(EVENT_PATH, body, headers)).status;
    close = () => transport.close();
  }
  try {
    if (values.mode === "loop") {
      const count = Number(values.count ?? 1000);
      const base = Temporal.Instant.from("2024-01-01T00:00:00Z");
      for (let i = 0; i < count; i++) {
        const at = base.add({ seconds: i }).toString();
        const body = eventBody(eventOf({ type: "lock", user: `bare-${i}`, at }), { retry: false });
        const status = await post(body);
        if (status >= 300) throw new Error(`Bare loop request ${i} answered ${status}`);
      }
      console.log("done");
    } else {
      for await (const line of readLines(Deno.stdin.readable)) {
        if (line.trim() === "") continue;
        await post(eventBody(eventOf(JSON.parse(line)), { retry: false }));
      }
    }
  } finally {
    close();
  }
}

if (import.meta.main) await main();
