/**
 * The API key given to a misspelt flag (`--api_key=KEY`) or as a stray
 * argument is not echoed by the command's error.
 */
import assert from "node:assert/strict";
import { runCli } from "../support/agent_process.ts";
import { agentDir, TEST_API_KEY } from "../support/files.ts";

for (
  const [name, args] of [
    ["--api_key=KEY", [`--api_key=${TEST_API_KEY}`]],
    ["-apikey KEY", ["-apikey", TEST_API_KEY]],
    ["a stray KEY after a flag", ["--debug", "true", TEST_API_KEY]],
    ["a stray KEY alone", [TEST_API_KEY]],
  ] as const
) {
  Deno.test(`${name}: the error does not show the key`, async () => {
    const { dir, config } = await agentDir("usm-fault-flag-");
    const result = await runCli(["--config", config, ...args]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /Unexpected argument|Unknown flag/);
    for (const output of [result.stdout, result.stderr]) {
      assert.ok(!output.includes(TEST_API_KEY), `the key is echoed: ${output}`);
      assert.ok(!output.includes(TEST_API_KEY.slice(4, -4)), `part of the key: ${output}`);
    }
    await Deno.remove(dir, { recursive: true });
  });
}
