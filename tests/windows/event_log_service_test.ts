/**
 * The installed service writes its Event Log entries through ReportEventW (Windows / Wine):
 * `--service install` registers the source; the service writes 100 at its start, 206 when the
 * server refuses its key, 216 once `--api-key` fixed it and an event went, 101 at its stop, each
 * without a failure (the agent logs every write it made at debug level, and a failed write to
 * error.log); `--service remove` removes the source.
 *
 * Wine's Event Log stores nothing (RegisterEventSourceW and ReportEventW succeed, the
 * Application log stays empty: src/windows/eventlog/app_event_log_test.ts prints the record counts), so what
 * Event Viewer shows is checked only on Windows; here the calls and the registry are.
 */
import assert from "node:assert/strict";
import { EVENT_SOURCE_KEY } from "../../src/windows/eventlog/app_event_log.ts";
import { WindowsServiceManager } from "../../src/windows/mgr/service_manager.ts";
import { encodeTestControl } from "./test_controls.ts";
import { ReferenceServer } from "../support/reference_server.ts";
import { makeInstallParent, testBuildCli as cli, until } from "./support.ts";

const ignore = Deno.build.os !== "windows";
const KEY = "usm-evlog-key-good-0123456789";
const WRONG_KEY = "usm-evlog-key-wrong-9876543210";

async function sourceRegistered(): Promise<boolean> {
  const { success } = await new Deno.Command("reg", {
    args: ["query", `HKLM\\${EVENT_SOURCE_KEY}`],
    stdout: "null",
    stderr: "null",
  }).output();
  return success;
}

Deno.test({
  name:
    "installed service: source registered, entries written through ReportEventW, source removed",
  ignore,
  sanitizeResources: false, // the reference server's connections close asynchronously
  sanitizeOps: false,
  async fn() {
    const server = await ReferenceServer.start({ tls: false, apiKeys: [KEY], rateLimit: null });
    const tmp = await makeInstallParent("usm-evlog-");
    const installDir = `${tmp}\\Install`;
    const configPath = `${installDir}\\config.ini`;
    const read = (name: string) => Deno.readTextFile(`${installDir}\\${name}`).catch(() => "");
    const written = (id: number) => async () =>
      (await read("session_monitor.log")).includes(`Event ${id} written to the Windows Event Log`);
    const manager = new WindowsServiceManager();
    const log: string[] = [];
    try {
      const imported = `${tmp}\\import.ini`;
      await Deno.writeTextFile(
        imported,
        [
          "[API]",
          `api_key = ${WRONG_KEY}`,
          `server_url = http://127.0.0.1:${server.port}`,
          "timezone = UTC",
          `install_dir = ${installDir}`,
          "debug_logs = true",
          "",
        ].join("\r\n"),
      );
      const install = await cli("--service", "install", "--config", imported);
      log.push(install.output);
      assert.equal(install.code, 0, install.output);
      assert.match(install.output, /Event Log source UserSessionMonService registered/);
      assert.ok(await sourceRegistered(), "the source's key exists after --service install");

      await until("event 100 (started) written", written(100));
      manager.control(encodeTestControl(5, 1)); // a logon: its send gets 401
      await until("event 206 (API key refused) written", written(206));

      const fix = await cli("--api-key", KEY, "--config", configPath);
      log.push(fix.output);
      assert.equal(fix.code, 0, fix.output);
      // At least one Logon: the start-up snapshot may add a "learnt late" Logon of the session
      // already signed in (Wine has one) besides the control's.
      await until(
        "the logon at the server",
        () => server.stored().some((e) => e.eventType === "Logon"),
      );
      await until("event 216 (API key accepted) written", written(216));

      const stop = await cli("--service", "stop");
      log.push(stop.output);
      assert.equal(stop.code, 0, stop.output);
      await until("event 101 (stopped) written", written(101));
      const errors = await read("error.log");
      assert.doesNotMatch(errors, /Windows Event Log/, "a write to the Event Log failed");

      const remove = await cli("--service", "remove", "--config", configPath);
      log.push(remove.output);
      assert.equal(remove.code, 0, remove.output);
      assert.match(remove.output, /Event Log source UserSessionMonService removed/);
      assert.equal(await sourceRegistered(), false, "the source's key is gone after remove");
      for (const output of log) assert.ok(!output.includes(KEY) && !output.includes(WRONG_KEY));
    } catch (error) {
      const agentLog = await read("session_monitor.log");
      throw new Error(
        `${(error as Error).message}\n--- command output ---\n${
          log.join("\n")
        }\n--- session_monitor.log ---\n${agentLog}`,
        { cause: error },
      );
    } finally {
      if (manager.state().state !== "not installed") {
        await manager.action("remove", { print: () => {} }).catch(() => {});
      }
      await server.stop();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
