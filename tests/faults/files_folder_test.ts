/**
 * `--service run --config X/config.ini` changes the permissions of X only when
 * the agent created X (or X is the install folder); a folder that existed keeps its mode, and a
 * warning says when others can write in it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess, errorLog, FaultBench, stopOrFail } from "./journal_fault_support.ts";

Deno.test({
  name:
    "the agent leaves an existing folder's permissions alone and warns when others can write in it",
  ignore: Deno.build.os === "windows",
  async fn() {
    const bench = await FaultBench.start();
    try {
      const { dir, config } = await bench.folder();
      await Deno.chmod(dir, 0o777);
      const agent = AgentProcess.start(config);
      try {
        await agent.ready();
      } finally {
        assert.equal(await stopOrFail(agent), 0);
      }
      assert.equal((await Deno.stat(dir)).mode! & 0o7777, 0o777, "the folder's mode is unchanged");
      assert.match(
        await errorLog(dir),
        new RegExp(
          `The folder ${dir} that holds config.ini and the agent's files can be written by group and others \\(mode 0777\\): the agent did not create it, so it leaves its permissions alone`,
        ),
      );

      // A folder the agent creates itself is restricted to its owner.
      const created = join(dir, "made-by-agent");
      const second = AgentProcess.start(join(created, "config.ini"));
      try {
        await second.ready();
      } finally {
        assert.equal(await stopOrFail(second), 0);
      }
      assert.equal((await Deno.stat(created)).mode! & 0o777, 0o700);
      assert.doesNotMatch(await errorLog(created), /can be written by/);
    } finally {
      await bench.stop();
    }
  },
});
