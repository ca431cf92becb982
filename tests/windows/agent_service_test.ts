/**
 * The agent as a Windows service, end to end under the real service control manager (Windows /
 * Wine), driven through the command line docs/administration.md documents:
 * install with an imported config → RUNNING → session changes through the service's HandlerEx
 * (the test-only controls of the test build, tests/windows/test_build.ts) → rows in event_log.csv and events at a local reference server →
 * `--api-key` on the installed agent makes the service reload and run a health check → an event
 * while the server is down, then stop → start → the event is sent → reinstall (upgrade) →
 * remove (files kept) → remove --purge.
 */
import assert from "node:assert/strict";
import { WindowsServiceManager } from "../../src/windows/mgr/service_manager.ts";
import { encodeTestControl } from "./test_controls.ts";
import { ReferenceServer } from "../support/reference_server.ts";
import { makeInstallParent, testBuildCli as cli, until } from "./support.ts";

const ignore = Deno.build.os !== "windows";
const KEY_1 = "usm-e2e-key-one-0123456789";
const KEY_2 = "usm-e2e-key-two-9876543210";

async function journalRows(installDir: string): Promise<string[][]> {
  const text = await Deno.readTextFile(`${installDir}\\event_log.csv`).catch(() => "");
  return text.split(/\r?\n/).slice(1).filter((line) => line !== "").map((line) => line.split(","));
}

Deno.test({
  name: "agent service: install, session events, reload on --api-key, offline stop/start, remove",
  ignore,
  sanitizeResources: false, // the reference server's connections close asynchronously
  sanitizeOps: false,
  async fn() {
    const server = await ReferenceServer.start({
      port: 0,
      tls: false,
      apiKeys: [KEY_1, KEY_2],
      rateLimit: null,
    });
    const tmp = await makeInstallParent("usm-e2e-");
    const installDir = `${tmp}\\Install Dir`;
    const configPath = `${installDir}\\config.ini`;
    const manager = new WindowsServiceManager();
    const log: string[] = [];
    try {
      const imported = `${tmp}\\import.ini`;
      await Deno.writeTextFile(
        imported,
        [
          "[API]",
          `api_key = ${KEY_1}`,
          `server_url = http://127.0.0.1:${server.port}`,
          "timezone = UTC",
          `install_dir = ${installDir}`,
          "health_check_interval = 30",
          "",
        ].join("\r\n"),
      );

      // Install as docs/administration.md says; the service is RUNNING when the command returns.
      const t0 = performance.now();
      const install = await cli("-service", "install", "-config", imported);
      log.push(install.output);
      assert.equal(install.code, 0, install.output);
      assert.match(install.output, /RUNNING/);
      console.log(
        `measured: --service install → RUNNING ${(performance.now() - t0).toFixed(0)} ms`,
      );
      assert.equal(manager.state().state, "RUNNING");
      const agentLog = await until(
        "the host's timing line",
        async () =>
          (await Deno.readTextFile(`${installDir}\\session_monitor.log`).catch(() => ""))
            .split(/\r?\n/).find((line) => line.includes("dispatcher called")),
      );
      console.log(`measured (real CLI under deno.exe): ${agentLog}`);
      const config = await Deno.readTextFile(configPath);
      assert.match(config, new RegExp(`server_url = http://127.0.0.1:${server.port}`));
      assert.ok(!install.output.includes(KEY_1), "the API key is never printed");

      // The start-up health check.
      await until(
        "the health check at start",
        () =>
          server.requests().some((r) =>
            r.path === "/api/health" && r.headers["x-api-key"] === KEY_1
          ),
      );

      // A logon through the real HandlerEx path → event_log.csv and the server.
      manager.control(encodeTestControl(5, 1));
      const logon = await until(
        "the Logon at the server",
        () => server.stored().find((e) => e.eventType === "Logon"),
      );
      assert.ok(logon.userName.length > 0 && logon.userName.toUpperCase() !== "SYSTEM");
      assert.equal(logon.computerName.toLowerCase(), Deno.hostname().toLowerCase());
      const rows = await journalRows(installDir);
      assert.ok(rows.some((row) => row[0] === "Logon" && row[1] === logon.userName), String(rows));

      // --api-key on the installed agent: config.ini changes, the service reloads and checks.
      const change = await cli(
        "--url",
        `http://127.0.0.1:${server.port}`,
        "--api-key",
        KEY_2,
        "--config",
        configPath,
      );
      log.push(change.output);
      assert.equal(change.code, 0, change.output);
      await until(
        "a health check with the new key",
        () =>
          server.requests().some((r) =>
            r.path === "/api/health" && r.headers["x-api-key"] === KEY_2
          ),
      );

      // Server down: the lock is journaled pending; the service stops with it pending.
      await server.pause();
      manager.control(encodeTestControl(7, 1));
      await until(
        "the Lock row in event_log.csv",
        async () => (await journalRows(installDir)).find((row) => row[0] === "Lock"),
      );
      const stop = await cli("--service", "stop");
      log.push(stop.output);
      assert.equal(stop.code, 0, stop.output);
      assert.equal(manager.state().state, "STOPPED");
      const pending = (await journalRows(installDir)).find((row) => row[0] === "Lock")!;
      assert.equal(pending.at(-1), "0", `still pending: ${pending}`);

      // Server back, service started: the pending event is sent (with the new key).
      await server.resume();
      const start = await cli("--service", "start");
      log.push(start.output);
      assert.equal(start.code, 0, start.output);
      const lock = await until(
        "the Lock at the server",
        () => server.stored().find((e) => e.eventType === "Lock"),
      );
      assert.equal(lock.userName, logon.userName);
      assert.ok(
        server.requests().some((r) =>
          r.path === "/api/log_event" && r.headers["x-api-key"] === KEY_2
        ),
      );

      // Reinstall = upgrade: the service is updated, event_log.csv is kept, and the imported
      // file wins for the keys it sets (api_key back to KEY_1).
      const rowsBefore = (await journalRows(installDir)).length;
      const upgrade = await cli("-service", "install", "-config", imported);
      log.push(upgrade.output);
      assert.equal(upgrade.code, 0, upgrade.output);
      assert.match(upgrade.output, /updated/);
      assert.match(upgrade.output, /RUNNING/);
      assert.equal((await journalRows(installDir)).length, rowsBefore);
      assert.match(await Deno.readTextFile(configPath), new RegExp(`api_key = ${KEY_1}`));

      // Restart: a new process takes over and keeps sending.
      const pidBefore = manager.state().pid;
      const restart = await cli("--service", "restart");
      log.push(restart.output);
      assert.equal(restart.code, 0, restart.output);
      assert.match(restart.output, /RUNNING/);
      const after = manager.state();
      assert.equal(after.state, "RUNNING");
      assert.notEqual(after.pid, pidBefore, "restart did not start a new process");
      manager.control(encodeTestControl(8, 1));
      await until(
        "the Unlock after the restart at the server",
        () => server.stored().find((e) => e.eventType === "Unlock"),
      );

      // Remove: the service goes, config.ini and event_log.csv stay.
      const remove = await cli("--service", "uninstall", "--config", configPath);
      log.push(remove.output);
      assert.equal(remove.code, 0, remove.output);
      assert.equal(manager.state().state, "not installed");
      await Deno.stat(configPath);
      await Deno.stat(`${installDir}\\event_log.csv`);

      // Remove --purge: the agent's files and the (then empty) folder go.
      const purge = await cli("--service", "remove", "--purge", "--config", configPath);
      log.push(purge.output);
      assert.equal(purge.code, 0, purge.output);
      await assert.rejects(() => Deno.stat(installDir), Deno.errors.NotFound);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- command output ---\n${log.join("\n")}`, {
        cause: error,
      });
    } finally {
      if (manager.state().state !== "not installed") {
        await manager.action("remove", { print: () => {} }).catch(() => {});
      }
      await server.stop();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
