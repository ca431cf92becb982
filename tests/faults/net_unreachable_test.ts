/**
 * The ways to the server that fail before any HTTP: a TLS handshake that stalls (a port that
 * accepts and never answers), a server name that does not resolve. The agent keeps the event
 * pending, closes what it opened, and sends it once the way is open again.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess } from "../support/agent_process.ts";
import { agentDir, eventually, journalRows, TEST_API_KEY } from "../support/files.ts";
import { writeAgentConfig } from "../support/hostile_server.ts";
import { ReferenceServer } from "../support/reference_server.ts";

/**
 * A TCP relay on 127.0.0.1 to `port`: it holds the first `silent` connections without a word
 * (a TLS handshake that stalls), then passes the next ones through.
 */
function stallingRelay(port: number, silent: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = { accepted: 0, heldClosed: 0 };
  const open = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      open.add(conn);
      const held = state.accepted++ < silent;
      tasks.push((held ? hold(conn) : relay(conn, port, open)).finally(() => open.delete(conn)));
    }
  })().catch(() => {});
  async function hold(conn: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(4096);
    try {
      while (await conn.read(buffer) !== null) { /* the ClientHello, unanswered */ }
    } catch { /* reset by the client */ }
    state.heldClosed++;
  }
  return {
    state,
    url: `https://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    async stop() {
      listener.close();
      await accepting;
      for (const conn of open) conn.close();
      await Promise.allSettled(tasks);
    },
  };
}

async function relay(conn: Deno.Conn, port: number, open: Set<Deno.Conn>): Promise<void> {
  const upstream = await Deno.connect({ hostname: "127.0.0.1", port });
  open.add(upstream);
  await Promise.allSettled([
    conn.readable.pipeTo(upstream.writable),
    upstream.readable.pipeTo(conn.writable),
  ]);
  open.delete(upstream);
}

const EVENT = { type: "logon", user: "josh", session: 2, at: "2025-04-27T07:06:14Z" };

Deno.test("a TLS handshake that stalls is dropped on the time-out; the event goes after", async () => {
  await using server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], certBits: 2048 });
  // The first three connections meet a silent port: the start's route probe (a plain connect,
  // closed at once), then two TLS handshakes (the health check, the event).
  const relay = stallingRelay(Number(new URL(server.url).port), 3);
  const { dir, config } = await agentDir("usm-fault-tls-stall-");
  await writeAgentConfig(config, { url: relay.url, sha256: server.certificate!.sha256 });
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await agent.feed(EVENT);
    await server.waitFor((stored) => stored.length === 1, 90_000);
    await eventually("the row sent", () => journalRows(dir), (r) => r[0]?.status > 0, 30_000);
    assert.equal(relay.state.heldClosed, 3, "the agent closed every stalled connection");
  } finally {
    await agent.stop();
    await relay.stop();
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a server name that does not resolve keeps the event until server_url is fixed", async () => {
  await using server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], certBits: 2048 });
  const sha256 = server.certificate!.sha256;
  const { dir, config } = await agentDir("usm-fault-dns-");
  const port = new URL(server.url).port;
  await writeAgentConfig(config, { url: `https://usm-server.invalid:${port}`, sha256 });
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await agent.feed(EVENT);
    const status = await eventually(
      "the failed attempt in status.json",
      () => Deno.readTextFile(join(dir, "status.json")).catch(() => ""),
      (text) => text.includes("Cannot reach"),
    );
    assert.match(status, /Cannot reach https:\/\/usm-server\.invalid:\d+: /);
    assert.equal((await journalRows(dir))[0].status, 0, "pending");
    await writeAgentConfig(config, { url: server.url, sha256 });
    await server.waitFor((stored) => stored.length === 1, 60_000);
    await eventually("the row sent", () => journalRows(dir), (r) => r[0]?.status === 2);
  } finally {
    await agent.stop();
  }
  await Deno.remove(dir, { recursive: true });
});
