/**
 * While the server cannot be connected to at all (it is down: connections are refused), the
 * agent's retry waits stay short (full jitter up to OUTAGE_BACKOFF_CAP_MS) however long the
 * outage lasts, so the backlog follows the server's return within seconds; the waits are read
 * from status.json (the agent's own plan), not timed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { OUTAGE_BACKOFF_CAP_MS } from "../../src/delivery/deferred_events.ts";
import { AgentProcess } from "../support/agent_process.ts";
import { agentDir, eventually, journalRows, TEST_API_KEY } from "../support/files.ts";
import { writeAgentConfig } from "../support/hostile_server.ts";
import { ReferenceServer } from "../support/reference_server.ts";

interface Snapshot {
  nextAttemptAt?: number;
  lastError?: { at: number; message: string };
  sending?: { attempts: number };
}

Deno.test("retry waits during an outage stay within the outage cap", async () => {
  await using server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], certBits: 2048 });
  const { dir, config } = await agentDir("usm-fault-outage-retry-");
  await writeAgentConfig(config, { url: server.url, sha256: server.certificate!.sha256 });
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await server.pause(); // down: every connection refused
    await agent.feed({ type: "logon", user: "josh", session: 2, at: "2025-04-27T07:06:14Z" });
    // Every plan status.json shows from the 4th attempt on (the doubling would pass 10 s at the
    // 4th: 2, 4, 8, 16 s ceilings) waits at most the outage cap.
    const waits = new Map<number, number>();
    await eventually(
      "seven refused attempts",
      async () => {
        const text = await Deno.readTextFile(join(dir, "status.json")).catch(() => "{}");
        const status = JSON.parse(text || "{}") as Snapshot;
        const attempts = status.sending?.attempts ?? 0;
        if (attempts >= 4 && status.nextAttemptAt && status.lastError) {
          waits.set(attempts, status.nextAttemptAt - status.lastError.at);
        }
        return attempts;
      },
      (attempts) => attempts >= 7,
      120_000,
    );
    assert.ok(waits.size >= 2, `plans seen: ${JSON.stringify([...waits])}`);
    for (const [attempt, wait] of waits) {
      assert.ok(wait <= OUTAGE_BACKOFF_CAP_MS + 50, `attempt ${attempt} waits ${wait} ms`);
    }
    await server.resume();
    await server.waitFor((stored) => stored.length === 1, 60_000);
    await eventually("the row sent", () => journalRows(dir), (r) => r[0]?.status === 2);
  } finally {
    await agent.stop();
  }
  await Deno.remove(dir, { recursive: true });
});
