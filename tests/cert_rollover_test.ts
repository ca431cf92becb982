/**
 * A certificate rollover: `--cert-sha256 OLD,NEW` pins both certificates, so the server's
 * certificate can be replaced after every PC has the new pin, with no redeployment at the
 * switch. A real agent process, the reference server double over HTTPS presenting first the
 * old certificate, then (on the same port) the new one; then a pin list neither matches.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess, runCli } from "./support/agent_process.ts";
import { agentDir, eventually, journalRows, TEST_API_KEY } from "./support/files.ts";
import { ReferenceServer } from "./support/reference_server.ts";
import { readStatus } from "../src/status/status.ts";

Deno.test({
  name: "two pins: the old certificate and the new one are both accepted, neither refused",
  sanitizeResources: false, // the double's connections close asynchronously
  sanitizeOps: false,
  async fn() {
    const options = { apiKeys: [TEST_API_KEY], rateLimit: null };
    const old = await ReferenceServer.start({ ...options, tls: "reference" });
    const port = old.port;
    const oldPin = old.certificate!.sha256;
    let renewed: ReferenceServer | undefined;
    const { dir, config } = await agentDir("usm-rollover-");
    let agent: AgentProcess | undefined;
    try {
      // The pin list as an administrator types it: colons and upper case in one of them.
      const newPin = await ReferenceServer.start({ ...options, tls: "ca-signed", port: 0 })
        .then(async (probe) => {
          const pin = probe.certificate!.sha256;
          await probe.stop();
          return pin;
        });
      assert.notEqual(oldPin, newPin);
      const typed = `${oldPin.toUpperCase().match(/../g)!.join(":")},${newPin}`;
      const configured = await runCli([
        "--config",
        config,
        "--url",
        old.url,
        "--api-key",
        TEST_API_KEY,
        "--cert-sha256",
        typed,
      ]);
      assert.equal(configured.code, 0, configured.stderr + configured.stdout);
      const ini = await Deno.readTextFile(config);
      assert.match(ini, new RegExp(`^tls_server_sha256 = ${oldPin},${newPin}$`, "m"));

      agent = AgentProcess.start(config);
      await agent.ready();
      await agent.feed({ type: "logon", user: "alice", session: 2, at: "2025-04-27T07:06:14Z" });
      await old.waitFor((stored) => stored.length === 1, 20_000);

      // The switch: the server now presents the new certificate on the same address.
      await old.stop();
      renewed = await ReferenceServer.start({ ...options, tls: "ca-signed", port });
      assert.equal(renewed.certificate!.sha256, newPin);
      await agent.feed({ type: "lock", user: "alice", session: 2, at: "2025-04-27T07:16:14Z" });
      await renewed.waitFor((stored) => stored.length === 1, 30_000);
      await eventually(
        "both sent",
        () => journalRows(dir),
        (rows) => rows.length === 2 && rows.every((row) => row.status !== 0),
      );

      // Neither pin matches the certificate presented: nothing is sent.
      const wrong = [oldPin, "0".repeat(64)].join(",");
      const repinned = await runCli(["--config", config, "--cert-sha256", wrong]);
      assert.equal(repinned.code, 7, "config.ini written, its health check failed");
      await eventually(
        "the pin change applied",
        () => readStatus(dir),
        (status) => /does not match/.test(status?.lastHealthCheck?.message ?? ""),
        30_000,
      );
      await agent.feed({ type: "unlock", user: "alice", session: 2, at: "2025-04-27T07:26:14Z" });
      const status = await eventually(
        "the third event refused by the pin check",
        () => readStatus(dir),
        (status) => /does not match tls_server_sha256/.test(status?.lastError?.message ?? ""),
        30_000,
      );
      assert.match(status!.lastError!.message, new RegExp(`expected ${oldPin} or 0{64}`));
      assert.equal(renewed.stored().length, 1, "no event reached the server");
      const rows = await journalRows(dir);
      assert.deepEqual(rows.map((row) => row.status !== 0), [true, true, false]);
    } finally {
      await agent?.stop();
      await old.stop().catch(() => {});
      await renewed?.stop();
      await Deno.remove(join(dir), { recursive: true });
    }
  },
});
