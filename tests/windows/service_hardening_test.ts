/**
 * The service's hardening and the pending-state handling under the real service manager
 * (Windows / Wine): preshutdown timeout, failure actions for a failed start, the service DACL,
 * the Environment value removed at install, a stop sent during START_PENDING, and the process
 * waited for by pid. The exact DACL and the refusal of a control from a standard user are
 * asserted only on real Windows (USM_REAL_WINDOWS=1, .github/workflows/windows.yml).
 */
import assert from "node:assert/strict";
import {
  READ_CONTROL,
  SERVICE_QUERY_CONFIG,
  SERVICE_QUERY_STATUS,
  SERVICE_RUNNING,
  SERVICE_START,
  SERVICE_STOPPED,
} from "../../ffi/advapi32.ts";
import { unwrap } from "../../ffi/error.ts";
import { sameDescriptor, SERVICE_SDDL } from "../../src/windows/security/descriptor.ts";
import { createOrUpdateService } from "../../src/windows/mgr/installer.ts";
import { waitForProcessExit } from "../../src/windows/mgr/process_wait.ts";
import { openService, queryStatus, stopService, waitForState } from "../../src/windows/mgr/scm.ts";
import {
  PRESHUTDOWN_TIMEOUT_MS,
  queryFailureActionsOnNonCrash,
  queryPreshutdownTimeout,
  queryServiceDacl,
} from "../../src/windows/mgr/service_config.ts";
import { advapi32 } from "../../ffi/advapi32.ts";
import {
  harnessCommand,
  ignore,
  readHooks,
  realWindows,
  setServiceEnvironment,
  waitForHook,
  withService,
} from "./service_fixture.ts";
import { RELOAD_CONTROL } from "../../src/windows/svc/service_status.ts";
import { runningUnderWine } from "../../src/windows/security/wine.ts";
import { isElevated, mayAdminister } from "../../src/windows/security/elevation.ts";

async function regQuery(name: string): Promise<string> {
  const { stdout } = await new Deno.Command("reg", {
    args: ["query", `HKLM\\SYSTEM\\CurrentControlSet\\Services\\${name}`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout);
}

Deno.test({
  name:
    "service hardening: preshutdown 15 s, failure actions on a failed start, DACL, no Environment",
  ignore,
  async fn() {
    const name = "UsmHardening";
    await withService(name, [], async (out) => {
      using service = openService(name, SERVICE_QUERY_CONFIG | READ_CONTROL)!;
      assert.equal(queryPreshutdownTimeout(service), PRESHUTDOWN_TIMEOUT_MS);
      // Wine 10 knows no SERVICE_CONFIG_FAILURE_ACTIONS_FLAG (ERROR_INVALID_LEVEL).
      if (!runningUnderWine()) assert.equal(queryFailureActionsOnNonCrash(service), true);
      const dacl = queryServiceDacl(service);
      console.log(`service DACL read back: ${dacl}`);
      if (realWindows) assert.ok(sameDescriptor(dacl, SERVICE_SDDL), dacl);

      // An Environment value (as a test machine may leave) is removed by the next install.
      await setServiceEnvironment(name, ["USM_SOMETHING=1"]);
      assert.match(await regQuery(name), /Environment/);
      const again = createOrUpdateService(name, harnessCommand(out, name), `USM test ${name}`);
      assert.deepEqual(again, { outcome: "updated", environmentRemoved: true });
      assert.doesNotMatch(await regQuery(name), /Environment/);
    });
  },
});

Deno.test({
  name:
    "pending states: a stop sent during START_PENDING waits for RUNNING, then stops; the process exits",
  ignore,
  async fn() {
    const name = "UsmPending";
    await withService(name, ["--slow-start", "3000"], async (out) => {
      using service = openService(name, SERVICE_START | SERVICE_QUERY_STATUS)!;
      unwrap("StartServiceW", advapi32().StartServiceW(service.handle, 0, null));
      await waitForHook(out, (e) => e.hook === "start");
      const during = queryStatus(service);
      console.log(`state while the start is slow: ${during.currentState}`);
      const stopped = await stopService(name, { timeoutMs: 30_000 });
      assert.ok(stopped);
      assert.equal(stopped.currentState, SERVICE_STOPPED);
      assert.ok(stopped.ranAsPid > 0, "the pid of the process that ran the service");
      assert.equal(await waitForProcessExit(stopped.ranAsPid, 20_000), true);
      const hooks = (await readHooks(out)).map((e) => e.hook).filter((h) => h !== "log");
      assert.deepEqual(hooks.slice(0, 1), ["start"]);
      assert.ok(hooks.includes("stop"), hooks.join(","));
      assert.equal(hooks.at(-1), "exit");
    });
  },
});

Deno.test({
  name: "reload control: a burst of 128 runs one reload at once and one later",
  ignore,
  async fn() {
    const name = "UsmReloadBurst";
    await withService(name, [], async (out, manager) => {
      assert.equal(await manager.action("start", { print: () => {} }), 0);
      using service = openService(name, SERVICE_QUERY_STATUS)!;
      assert.equal((await waitForState(service, SERVICE_RUNNING)).currentState, SERVICE_RUNNING);
      for (let i = 0; i < 20; i++) manager.control(RELOAD_CONTROL);
      await waitForHook(out, (e) => e.hook === "reload");
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const reloads = (await readHooks(out)).filter((e) => e.hook === "reload").length;
      assert.equal(reloads, 1, "20 controls in a burst: one reload now, the rest coalesced");
    });
  },
});

Deno.test({
  name: "service DACL: a standard user may query the service but not send it a control",
  ignore: ignore || !realWindows,
  async fn() {
    const user = Deno.env.get("USM_TEST_STANDARD_USER");
    const password = Deno.env.get("USM_TEST_STANDARD_PASSWORD");
    assert.ok(user && password, "the workflow creates a standard user and names it");
    const name = "UsmDaclTest";
    await withService(name, [], async (_out, manager) => {
      assert.equal(await manager.action("start", { print: () => {} }), 0);
      const dir = await Deno.makeTempDir({ prefix: "usm-dacl-" });
      try {
        // sc.exe as the standard user (CreateProcessWithLogonW through Start-Process).
        const script = [
          `$p = ConvertTo-SecureString '${password}' -AsPlainText -Force`,
          `$c = New-Object System.Management.Automation.PSCredential('${user}', $p)`,
          `foreach ($a in @('query', 'control', 'stop')) {`,
          `  $argv = if ($a -eq 'control') { @('control', '${name}', '128') } else { @($a, '${name}') }`,
          `  $r = Start-Process sc.exe -ArgumentList $argv -Credential $c -Wait -PassThru -NoNewWindow` +
          ` -RedirectStandardOutput "${dir}\\$a.txt" -WorkingDirectory $env:SystemRoot`,
          `  Set-Content "${dir}\\$a.code" $r.ExitCode`,
          `}`,
        ].join("\n");
        const ran = await new Deno.Command("powershell", {
          args: ["-NoProfile", "-NonInteractive", "-Command", script],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const read = (f: string) => Deno.readTextFileSync(`${dir}\\${f}`).trim();
        assert.ok(ran.success, new TextDecoder().decode(ran.stderr));
        assert.equal(read("query.code"), "0", read("query.txt"));
        assert.equal(read("control.code"), "5", `control 128 refused: ${read("control.txt")}`);
        assert.equal(read("stop.code"), "5", `stop refused: ${read("stop.txt")}`);
        assert.equal(manager.state().state, "RUNNING");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test({
  name: "elevation: the token of an elevated runner reports TokenElevation",
  ignore: ignore || !realWindows,
  fn() {
    // Wine never elevates a token (it is asked of the service manager there instead).
    assert.equal(isElevated(), true);
    assert.equal(mayAdminister(), true);
  },
});

Deno.test({
  name: "start-up queue: a session change during START_PENDING is held, journaled after the start",
  ignore,
  async fn() {
    const name = "UsmHeldChange";
    await withService(
      name,
      ["--slow-start", "2000", "--change-during-start", "5:2"],
      async (out) => {
        using service = openService(name, SERVICE_START | SERVICE_QUERY_STATUS)!;
        unwrap("StartServiceW", advapi32().StartServiceW(service.handle, 0, null));
        const sent = await waitForHook(out, (e) => e.hook === "changeSent");
        const change = await waitForHook(out, (e) => e.hook === "sessionChange");
        const done = await waitForHook(out, (e) => e.hook === "startDone");
        assert.equal(change.type, "logon");
        assert.equal(change.session, 2);
        const at = Date.parse(String(change.at));
        assert.ok(at <= Number(sent.wall) + 1_000, "the time it arrived");
        assert.ok(at < Number(done.wall), "taken before the start ended, not when journaled");
        await waitForHook(out, (e) => e.hook === "online");
        const hooks = (await readHooks(out)).map((e) => e.hook).filter((h) => h !== "log");
        assert.deepEqual(hooks.slice(0, 5), [
          "start",
          "changeSent",
          "startDone",
          "sessionChange", // held until the start (the journal) was done
          "online", // the network after it
        ]);
      },
    );
  },
});
