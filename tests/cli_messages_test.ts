/**
 * Messages of the command line as an administrator meets them: the real CLI (`deno run mod.ts`)
 * in a child process, its exit code and what it prints.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess, configureAgent, runCli } from "./support/agent_process.ts";
import { agentDir, TEST_API_KEY } from "./support/files.ts";
import { ReferenceServer } from "./support/reference_server.ts";

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

Deno.test("a config command says Created or Updated, who reloads, and the health verdict once", async () => {
  const server = await ReferenceServer.start({ apiKeys: [TEST_API_KEY], rateLimit: null });
  const { dir, config } = await agentDir();
  try {
    const created = await configureAgent(config, server);
    assert.match(created.stdout, new RegExp(`^Created ${escape(config)}: server_url = `, "m"));
    assert.match(
      created.stdout,
      /^No agent runs with this config\.ini: it reads it when it starts$/m,
    );
    assert.match(created.stdout, /^Health check passed$/m);
    assert.doesNotMatch(created.stdout, /A running agent reloads/);

    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      const updated = await runCli(["--config", config, "--debug", "true"]);
      assert.equal(updated.code, 0, updated.stderr);
      assert.match(
        updated.stdout,
        new RegExp(`^Updated ${escape(config)}: debug_logs = true`, "m"),
      );
      assert.match(updated.stdout, /^A running agent reloads config\.ini by itself/m);
    } finally {
      await agent.stop();
    }
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a config command whose health check fails exits 7 after writing the file", async () => {
  const { dir, config } = await agentDir();
  try {
    // Port 9 (discard) on 127.0.0.1: nothing listens, the health check cannot reach it.
    const result = await runCli(
      ["--config", config, "--url", "https://127.0.0.1:9", "--api-key", TEST_API_KEY],
    );
    assert.match(result.stdout, /^Health check failed: /m);
    assert.equal(result.code, 7);
    assert.match(await Deno.readTextFile(config), /^server_url = https:\/\/127\.0\.0\.1:9$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a config path in a missing folder or under a file is refused and creates nothing", async (t) => {
  const { dir } = await agentDir();
  try {
    await t.step("a missing folder (a typo in --config) is named, nothing is created", async () => {
      const typo = join(dir, "UserSesionMon", "config.ini");
      const result = await runCli(["--config", typo, "--debug", "true"]);
      assert.equal(result.code, 3);
      assert.match(
        result.stderr,
        new RegExp(`The folder ${escape(join(dir, "UserSesionMon"))} of .* does not exist`),
      );
      assert.equal(await Deno.stat(join(dir, "UserSesionMon")).catch(() => undefined), undefined);
    });
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "");
    await t.step("a config command under a file names the file", async () => {
      const result = await runCli(["--config", join(file, "config.ini"), "--debug", "true"]);
      assert.equal(result.code, 3);
      assert.match(result.stderr, new RegExp(`${escape(file)} is a file, not a folder`));
    });
    await t.step(
      "an agent started under a file names the file, not administrator rights",
      async () => {
        const result = await runCli([
          "--service",
          "run",
          "--config",
          join(file, "sub", "config.ini"),
        ]);
        assert.equal(result.code, 1);
        assert.match(result.stderr, new RegExp(`${escape(file)} is a file, not a folder`));
        assert.doesNotMatch(result.stderr, /Administrator/);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
