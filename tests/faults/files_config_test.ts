/**
 * Config.ini that is not a regular file, a temporary file a killed rewrite left
 * behind, config.ini as a link, and CR-only line ends; each through the real CLI or agent.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AgentProcess,
  change,
  FaultBench,
  mkfifo,
  runCli,
  stopOrFail,
  TEST_API_KEY,
} from "./journal_fault_support.ts";

Deno.test({
  name:
    "config.ini as a FIFO is refused with a message and the agent neither blocks nor ignores SIGTERM",
  ignore: Deno.build.os === "windows",
  async fn() {
    const bench = await FaultBench.start();
    try {
      const { config } = await bench.folder();
      await Deno.remove(config);
      await mkfifo(config);
      const agent = AgentProcess.start(config);
      try {
        await agent.waitForLine(
          new RegExp(
            `Refusing to use ${config}: it is a named pipe \\(FIFO\\), not a regular file`,
          ),
        );
        await agent.ready();
      } finally {
        assert.equal(await stopOrFail(agent), 0);
      }
    } finally {
      await bench.stop();
    }
  },
});

Deno.test("a temporary file of config.ini left by a killed rewrite is removed at start", async () => {
  const bench = await FaultBench.start();
  try {
    const { dir, config } = await bench.folder();
    const stale = `.config.ini.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(join(dir, stale), `[server]\napi_key = ${TEST_API_KEY}\n`);
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      await agent.waitForLine(
        new RegExp(`Removed temporary files .*: ${stale.replaceAll(".", "\\.")}`),
      );
    } finally {
      assert.equal(await stopOrFail(agent), 0);
    }
    await assert.rejects(Deno.lstat(join(dir, stale)), Deno.errors.NotFound);
  } finally {
    await bench.stop();
  }
});

Deno.test("--url on a config.ini that is a link writes the link's target and keeps the link", async () => {
  const bench = await FaultBench.start();
  try {
    const { dir, config } = await bench.folder();
    const real = join(dir, "kept-elsewhere.ini");
    await Deno.rename(config, real);
    await Deno.symlink(real, config);
    const cli = await runCli([
      "--config",
      config,
      "--url",
      bench.server.url,
      "--timezone",
      "Europe/Paris",
    ]);
    assert.equal(cli.code, 0, cli.stderr + cli.stdout);
    assert.ok((await Deno.lstat(config)).isSymlink, "config.ini is still a link");
    assert.match(await Deno.readTextFile(real), /timezone = Europe\/Paris/);
  } finally {
    await bench.stop();
  }
});

Deno.test("a config.ini with CR-only line ends is read line by line", async () => {
  const bench = await FaultBench.start();
  try {
    const { config } = await bench.folder();
    await Deno.writeTextFile(config, (await Deno.readTextFile(config)).replaceAll("\n", "\r"));
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      await agent.feed(change("cr-only"));
      await bench.expectStored(["cr-only"]);
    } finally {
      assert.equal(await stopOrFail(agent), 0);
    }
  } finally {
    await bench.stop();
  }
});
