/**
 * A server or proxy that quotes the X-API-Key it received puts no key in the
 * command's "Health check failed:" line, the agent's logs, status.json or `--status`: the
 * health answer's text passes the one redaction point.
 */
import { AgentProcess, runCli } from "../support/agent_process.ts";
import { agentDir, assertSecretNowhere, eventually, TEST_API_KEY } from "../support/files.ts";
import { HostileServer } from "../support/hostile_server.ts";
import { join } from "node:path";

Deno.test("an answer that echoes the API key shows it nowhere", async () => {
  await using server = await HostileServer.start((request) => ({
    status: request.path === "/api/health" ? 401 : 400,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      message: `Invalid API key ${request.headers["x-api-key"]} (received as X-API-Key: ${
        request.headers["x-api-key"]
      })`,
    }),
  }));
  const { dir, config } = await agentDir("usm-fault-echo-");
  const outputs: string[] = [];
  const configured = await runCli(
    ["--config", config, "--url", server.url, "--api-key", TEST_API_KEY, "--pin-server-cert"],
  );
  outputs.push(configured.stdout, configured.stderr);
  if (configured.code !== 7) throw new Error(`expected exit code 7: ${configured.stderr}`);
  if (!/Health check failed: .*4795…93fa/.test(configured.stdout)) {
    throw new Error(`expected the masked key in the health line: ${configured.stdout}`);
  }
  const agent = AgentProcess.start(config);
  try {
    await agent.ready();
    await agent.waitForLine(/Health check \(start\) failed/);
    await agent.feed({ type: "logon", user: "josh", session: 2, at: "2025-04-27T07:06:14Z" });
    await agent.waitForLine(/rejected the API key|Sending is paused|sending is paused/);
    await eventually(
      "status.json with the last health check",
      () => Deno.readTextFile(join(dir, "status.json")).catch(() => ""),
      (text) => text.includes("lastHealthCheck"),
    );
    const status = await runCli(["--config", config, "--status"]);
    outputs.push(status.stdout, status.stderr);
    if (!/Last health check: +FAILED/.test(status.stdout)) {
      throw new Error(`--status did not show the health check: ${status.stdout}`);
    }
  } finally {
    await agent.stop();
  }
  outputs.push(agent.lines.join("\n"));
  await assertSecretNowhere(dir, TEST_API_KEY, outputs);
  await assertSecretNowhere(dir, TEST_API_KEY.slice(4, -4), outputs.map((o) => o));
  await Deno.remove(dir, { recursive: true });
});
