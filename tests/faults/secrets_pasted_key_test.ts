/**
 * The API key pasted into another setting is masked in every message about
 * it, error.log included, because the redactor learns the key from config.ini's api_key line
 * before any other line is checked (and from the --api-key flag before any other flag).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess, runCli } from "../support/agent_process.ts";
import { agentDir, assertSecretNowhere, TEST_API_KEY } from "../support/files.ts";
import { writeAgentConfig } from "../support/hostile_server.ts";

for (
  const [key, value, said] of [
    ["timezone", TEST_API_KEY, /Invalid value for timezone/],
    ["health_check_path", TEST_API_KEY, /Invalid value for health_check_path|health_check_path/],
    ["server_url", `https://${TEST_API_KEY}`, /Settings: server https:\/\/4795…93fa/],
    ["tls_server_sha256", TEST_API_KEY, /pinned certificate 4795…/],
  ] as const
) {
  Deno.test(`the key pasted into ${key} is masked in the agent's logs`, async () => {
    const { dir, config } = await agentDir("usm-fault-paste-");
    await writeAgentConfig(config, { url: "https://127.0.0.1:9" }, { [key]: value });
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      await agent.waitForLine(said);
    } finally {
      await agent.stop();
    }
    await assertSecretNowhere(dir, TEST_API_KEY, [agent.lines.join("\n")]);
    await assertSecretNowhere(dir, TEST_API_KEY.slice(0, 16), [agent.lines.join("\n")]);
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("the key given to --api-key and pasted into --timezone is masked in the command's error", async () => {
  const { dir, config } = await agentDir("usm-fault-paste-");
  const result = await runCli([
    "--config",
    config,
    "--api-key",
    TEST_API_KEY,
    "--timezone",
    TEST_API_KEY,
  ]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Invalid value for --timezone \(timezone\): .*4795…93fa/);
  assert.ok(!result.stderr.includes(TEST_API_KEY.slice(4, -4)));
  assert.ok(!(await Deno.stat(join(dir, "config.ini")).catch(() => undefined)), "nothing written");
  await Deno.remove(dir, { recursive: true });
});
