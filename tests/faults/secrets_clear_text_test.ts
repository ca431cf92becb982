/**
 * An http:// server_url sends the API key in clear. The command that sets it,
 * every start of the agent and `--status` say so.
 */
import assert from "node:assert/strict";
import { AgentProcess, runCli } from "../support/agent_process.ts";
import { agentDir, TEST_API_KEY } from "../support/files.ts";

Deno.test("an http:// server_url is warned about at the command, at every start and in --status", async () => {
  const { dir, config } = await agentDir("usm-fault-http-");
  const url = "http://127.0.0.1:9";
  const set = await runCli(["--config", config, "--url", url, "--api-key", TEST_API_KEY]);
  assert.equal(set.code, 7, "written; nothing listens on port 9, so the health check fails");
  assert.match(set.stderr, /Warning: server_url starts with http:\/\/: the API key .* unencrypted/);
  for (let start = 1; start <= 2; start++) {
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      const line = await agent.waitForLine(/server_url starts with http:\/\//);
      assert.match(line, /WARN/, `start ${start}`);
    } finally {
      await agent.stop();
    }
    // Once per start, in one wording; and the start line claims no certificate check for http.
    const warnings = agent.lines.filter((l) => /travel unencrypted/.test(l));
    assert.equal(warnings.length, 1, `start ${start}:\n${warnings.join("\n")}`);
    const settings = agent.lines.find((l) => l.includes("Settings: server"));
    assert.match(settings ?? "", /no TLS: http:\/\/, unencrypted/, `start ${start}`);
  }
  const status = await runCli(["--config", config, "--status"]);
  assert.match(status.stdout, /Warning: +server_url starts with http:\/\//);
  await Deno.remove(dir, { recursive: true });
});
