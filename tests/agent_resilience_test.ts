/**
 * The agent against a full disk (a real, tiny tmpfs) and with the public IP lookup on, through a
 * real agent process and the reference server double.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess, configureAgent } from "./support/agent_process.ts";
import {
  canMount,
  eventually,
  journalRows,
  run,
  TEST_API_KEY,
  withoutRateLimit,
} from "./support/files.ts";
import { ReferenceServer } from "./support/reference_server.ts";

Deno.test({
  name:
    "a full disk holds events in memory, says so, and writes and sends them once space is freed",
  ignore: !canMount(),
  async fn() {
    const server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], rateLimit: null });
    const mount = await Deno.makeTempDir({ prefix: "usm-full-" });
    await run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mount);
    const config = join(mount, "config.ini");
    let agent: AgentProcess | undefined;
    try {
      await configureAgent(config, server);
      // More than 60 events: the agent is told the server has no rate limit (otherwise it paces
      // by the server's default, 60 per 60 s).
      await withoutRateLimit(config);
      agent = AgentProcess.start(config);
      await agent.ready();
      await agent.feed({ type: "logon", user: "before", session: 2, at: "2025-04-27T07:00:00Z" });
      await server.waitFor((stored) => stored.length === 1);

      // Fill the disk to the last byte.
      const filler = join(mount, "filler.bin");
      const file = await Deno.open(filler, { write: true, create: true });
      const block = new Uint8Array(4096);
      try {
        while (true) await file.write(block);
      } catch (error) {
        assert.ok(error instanceof Error);
      }
      file.close();

      // The journal's last page still has room for a few rows; enough events overflow it.
      const during = Array.from({ length: 150 }, (_, i) => ({
        type: "lock",
        user: `during-${i}`,
        session: 2,
        at: Temporal.Instant.from("2025-04-27T07:00:01Z").add({ seconds: i }).toString(),
      }));
      await agent.feed(...during);
      await agent.waitForLine(/Cannot write event_log\.csv in .*held in memory/);
      const onDisk = (await journalRows(mount)).length;
      assert.ok(onDisk < 151, "the disk took every event: it was not full");
      assert.ok(server.stored().length <= onDisk, "an event was sent before it was on disk");

      await Deno.remove(filler);
      const expected = ["before", ...during.map((d) => d.user)];
      await server.waitFor((stored) => stored.length === expected.length);
      assert.deepEqual(server.stored().map((s) => s.userName), expected, "all sent, in order");
      await agent.waitForLine(/Events held in memory are now in event_log\.csv/);
      const rows = await eventually(
        "every row sent",
        () => journalRows(mount),
        (r) => r.length === expected.length && r.every((e) => e.status !== 0),
      );
      assert.deepEqual(rows.map((r) => r.event.userName), expected);
      assert.equal((await agent.stop()).code, 0);
      agent = undefined;
    } finally {
      if (agent) await agent.stop("SIGKILL");
      await run("umount", mount).catch(() => {});
      await Deno.remove(mount, { recursive: true });
      await server.stop();
    }
  },
});

Deno.test("with obtain_public_ip on, events carry the public IP, looked up in the background", async () => {
  const server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], rateLimit: null });
  let lookups = 0;
  const ipService = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    lookups++;
    return new Response("203.0.113.7\n");
  });
  const dir = await Deno.makeTempDir({ prefix: "usm-publicip-" });
  const config = join(dir, "config.ini");
  try {
    await configureAgent(config, server);
    const text = await Deno.readTextFile(config);
    await Deno.writeTextFile(
      config,
      text.replace("obtain_public_ip = false", "obtain_public_ip = true").replace(
        /public_ip_http_urls = .*/,
        `public_ip_http_urls = http://127.0.0.1:1/unreachable,http://127.0.0.1:${ipService.addr.port}/ip`,
      ),
    );
    const agent = AgentProcess.start(config);
    await agent.ready();
    await agent.waitForLine(/Public IP is 203\.0\.113\.7/);
    await agent.feed({ type: "logon", user: "carol", session: 5, at: "2025-04-27T07:00:00Z" });
    await server.waitFor((stored) => stored.length === 1);
    assert.equal(server.stored()[0].publicIp, "203.0.113.7");
    assert.ok(lookups >= 1);
    assert.equal((await agent.stop()).code, 0);
  } finally {
    await ipService.shutdown();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("health checks run on the configured interval, and the effective interval is logged", async () => {
  const server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], rateLimit: null });
  const dir = await Deno.makeTempDir({ prefix: "usm-interval-" });
  const config = join(dir, "config.ini");
  try {
    await configureAgent(config, server, ["--check-interval", "10s"]);
    const agent = AgentProcess.start(config);
    await agent.waitForLine(/health checks every 10 seconds at \/api\/health/);
    await agent.waitForLine(/Health check \(start\) passed/);
    await agent.waitForLine(/Health check \(interval\) passed/);
    // The CLI's own check after --check-interval, the start check, one interval check.
    assert.ok(server.count(200, "/api/health") >= 3);
    assert.equal((await agent.stop()).code, 0);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
