/**
 * The public-IP lookup is a third party's answer: an endless one is read only up to a few
 * hundred bytes, an answer that is not one IPv4 address is not sent, and either way the agent
 * records and sends its events (without a PublicIP).
 */
import assert from "node:assert/strict";
import { AgentProcess } from "../support/agent_process.ts";
import { agentDir, eventually, journalRows, TEST_API_KEY } from "../support/files.ts";
import { writeAgentConfig } from "../support/hostile_server.ts";
import { ReferenceServer } from "../support/reference_server.ts";

/** A plain-HTTP lookup service on 127.0.0.1 answering `answer` (or an endless body). */
function lookupService(answer: string | "endless") {
  const state = { requests: 0, endlessBytes: [] as number[] };
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, signal: controller.signal },
    () => {
      state.requests++;
      if (answer !== "endless") return new Response(answer);
      const chunk = new TextEncoder().encode("1".repeat(64 * 1024));
      let written = 0;
      const index = state.endlessBytes.push(0) - 1;
      return new Response(
        new ReadableStream({
          pull(stream) {
            written += chunk.length;
            state.endlessBytes[index] = written;
            stream.enqueue(chunk);
          },
          cancel() {
            state.endlessBytes[index] = -written; // negative: the client stopped reading
          },
        }),
      );
    },
  );
  return {
    state,
    url: `http://127.0.0.1:${server.addr.port}/`,
    async stop() {
      controller.abort();
      await server.finished;
    },
  };
}

for (
  const [name, answer] of [
    ["an endless answer", "endless"],
    ["a page that is not an address", "<html>203.0.113.7</html>"],
    ["an address out of range", "203.0.113.256"],
  ] as const
) {
  Deno.test(`a public-IP lookup answering ${name} sends events without a PublicIP`, async () => {
    const lookup = lookupService(answer);
    await using server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], certBits: 2048 });
    const { dir, config } = await agentDir("usm-fault-public-ip-");
    await writeAgentConfig(config, { url: server.url, sha256: server.certificate!.sha256 }, {
      obtain_public_ip: "true",
      public_ip_http_urls: lookup.url,
    });
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      await eventually("the lookup asked", () => lookup.state.requests, (n) => n >= 1);
      await agent.feed({ type: "logon", user: "josh", session: 2, at: "2025-04-27T07:06:14Z" });
      await server.waitFor((stored) => stored.length === 1, 30_000);
      await eventually("the row sent", () => journalRows(dir), (r) => r[0]?.status === 1);
      assert.equal(server.stored()[0].publicIp, null, "no PublicIP sent");
      if (answer === "endless") {
        const [written] = await eventually(
          "the endless answer dropped",
          () => lookup.state.endlessBytes,
          (sizes) => sizes.length > 0 && sizes[0] < 0,
        );
        assert.ok(-written < 16 * 1024 * 1024, `${-written} bytes read before the drop`);
      }
    } finally {
      await agent.stop();
      await lookup.stop();
    }
    await Deno.remove(dir, { recursive: true });
  });
}
