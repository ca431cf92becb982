/**
 * The service host under the real service control manager (Windows / Wine): a service running
 * tests/windows/host_harness.ts is created, started, sent session controls through the
 * test-only path, reloaded, interrogated, stopped and deleted.
 */
import assert from "node:assert/strict";
import {
  SERVICE_CONTROL_INTERROGATE,
  SERVICE_RUNNING,
  SERVICE_STOPPED,
} from "../../ffi/advapi32.ts";
import { Win32Error } from "../../ffi/error.ts";
import { HARNESS, ignore, readHooks, waitForHook, withService } from "./service_fixture.ts";
import { RELOAD_CONTROL } from "../../src/windows/svc/service_status.ts";
import { encodeTestControl, TEST_CONTROL_LAST } from "./test_controls.ts";
import {
  controlService,
  openService,
  queryStatus,
  waitForState,
} from "../../src/windows/mgr/scm.ts";

Deno.test({
  name: "service host: SCM start, session controls through HandlerEx, reload, stop",
  ignore,
  async fn() {
    const name = "UsmHarnessTest";
    await withService(name, [], async (out, manager) => {
      const lines: string[] = [];
      const t0 = performance.now();
      assert.equal(await manager.action("start", { print: (line) => lines.push(line) }), 0);
      const startToRunningMs = performance.now() - t0;
      assert.match(lines.join("\n"), /RUNNING/);
      assert.equal(manager.state().state, "RUNNING");
      assert.ok(manager.state().pid! > 0);
      const started = await waitForHook(out, (e) => e.hook === "start");
      assert.equal(started.deferNetwork, true, "the host starts the agent without the network");
      await waitForHook(out, (e) => e.hook === "online");

      // Session changes fed through the real HandlerEx (test-only controls).
      for (
        const [wts, type] of [[5, "logon"], [7, "lock"], [8, "unlock"], [6, "logoff"]] as const
      ) {
        manager.control(encodeTestControl(wts, 2));
        const change = await waitForHook(out, (e) => e.hook === "sessionChange" && e.type === type);
        assert.equal(change.session, 2);
        assert.equal(typeof change.user, "string");
        assert.notEqual(String(change.user).toUpperCase(), "SYSTEM");
        assert.ok(Temporal.Instant.from(String(change.at)));
      }
      manager.control(RELOAD_CONTROL);
      await waitForHook(out, (e) => e.hook === "reload");

      using service = openService(name, 0x4 | 0x80 | 0x100)!; // query, interrogate, user control
      // ControlService returns the status the service reported: RUNNING, with its controls.
      const interrogated = controlService(service, SERVICE_CONTROL_INTERROGATE);
      assert.equal(interrogated.currentState, SERVICE_RUNNING);
      // An unknown control is refused by HandlerEx (ERROR_CALL_NOT_IMPLEMENTED): Windows fails
      // ControlService with it, Wine 10 reports success; either way nothing reaches the hooks
      // (checked by the hook list below).
      try {
        controlService(service, TEST_CONTROL_LAST + 1);
      } catch (error) {
        assert.ok(error instanceof Win32Error);
      }

      assert.equal(await manager.action("stop", { print: () => {} }), 0);
      const exit = await waitForHook(out, (e) => e.hook === "exit");
      assert.equal(exit.code, 0);
      const hooks = (await readHooks(out)).map((e) => e.hook).filter((h) => h !== "log");
      assert.deepEqual(hooks, [
        "start",
        "online",
        "sessionChange",
        "sessionChange",
        "sessionChange",
        "sessionChange",
        "reload",
        "stop",
        "exit",
      ]);
      const timings = exit.timings as Record<string, number>;
      console.log(
        `measured: dispatcher called ${
          timings.dispatcherCalledMs.toFixed(0)
        } ms after process start; ` +
          `ServiceMain→RUNNING ${(timings.runningMs - timings.serviceMainMs).toFixed(0)} ms; ` +
          `StartServiceW→RUNNING seen by the SCM ${startToRunningMs.toFixed(0)} ms`,
      );
    });
  },
});

Deno.test({
  name: "service host: a start failure reports STOPPED with the service-specific exit code",
  ignore,
  async fn() {
    const name = "UsmHarnessFail";
    await withService(name, ["--fail-start", "3"], async (out, manager) => {
      assert.equal(await manager.action("start", { print: () => {} }), 1);
      using service = openService(name, 0x4)!;
      const status = await waitForState(service, SERVICE_STOPPED, { timeoutMs: 20_000 });
      assert.equal(status.currentState, SERVICE_STOPPED);
      assert.equal(status.win32ExitCode, 1066);
      assert.equal(status.serviceSpecificExitCode, 3);
      assert.equal(queryStatus(service).serviceSpecificExitCode, 3);
      const exit = await waitForHook(out, (e) => e.hook === "exit");
      assert.equal(exit.code, 3);
    });
  },
});

Deno.test({
  name: "service host: outside the service manager the agent runs in the console",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "usm-console-" });
    const out = `${dir}\\hooks.jsonl`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", HARNESS, "--out", out],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitForHook(out, (e) => e.hook === "start");
      const log = await waitForHook(out, (e) => e.hook === "log");
      assert.match(String(log.message), /Not started by the service manager/);
    } finally {
      child.kill();
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
