/**
 * Messages of the command line as an administrator meets them: the real CLI (`deno run mod.ts`)
 * in a child process, its exit code and what it prints.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runCli } from "./support/agent_process.ts";
import { TEST_API_KEY } from "./support/files.ts";

Deno.test("a misspelt flag is unknown and the nearest flag is suggested", async (t) => {
  await t.step("--api_key=<key>: unknown, did you mean --api-key, the key not shown", async () => {
    const result = await runCli([`--api_key=${TEST_API_KEY}`]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Unknown flag "--api_key": did you mean --api-key\? See --help/);
    assert.ok(!result.stderr.includes(TEST_API_KEY.slice(8, -8)), result.stderr);
  });
  await t.step("--chek-interval 5: did you mean --check-interval", async () => {
    const result = await runCli(["--chek-interval", "5"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Unknown flag "--chek-interval": did you mean --check-interval\?/);
  });
});
