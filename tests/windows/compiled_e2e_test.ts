/**
 * The compiled agent end to end on real Windows (.github/workflows/windows.yml sets
 * USM_COMPILED_EXE to a TEST build, `deno task compile --test-build`): install from a package
 * folder with `-config`, the install folder's stored owner and DACL, session changes through the
 * test controls, events at a local HTTPS double (a CA-signed certificate, trusted through
 * tls_ca_file), an upgrade over the running service (the old process waited for, the exe
 * replaced), `remove --purge` from the installed exe (the running exe deleted at the next
 * restart, said so), then a second install removed with uninstall.bat (nothing left).
 */
import assert from "node:assert/strict";
import {
  AGENT_FILE_SDDL,
  INSTALL_DIR_SDDL,
  sameDescriptor,
} from "../../src/windows/security/descriptor.ts";
import { readDescriptor } from "../../src/windows/security/file_security.ts";
import { WindowsServiceManager } from "../../src/windows/mgr/service_manager.ts";
import { ReferenceServer } from "../support/reference_server.ts";
import { encodeTestControl } from "./test_controls.ts";
import { run, until as untilWithin } from "./support.ts";

const exe = Deno.env.get("USM_COMPILED_EXE");
const ignore = Deno.build.os !== "windows" || !exe;
const KEY = "usm-compiled-e2e-key-0123456789";

/** The compiled exe's steps (installs, service starts) take longer: a minute, polled every 200 ms. */
const until = <T>(what: string, probe: () => T | undefined | Promise<T | undefined>) =>
  untilWithin(what, probe, { timeoutMs: 60_000, everyMs: 200 });

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test({
  name: "compiled agent: package install, HTTPS events, upgrade over a running service, removal",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await ReferenceServer.start({
      tls: "ca-signed",
      apiKeys: [KEY],
      rateLimit: null,
    });
    const tmp = await Deno.makeTempDir({ prefix: "usm-compiled-" });
    const installDir = "C:\\ProgramData\\UserSessionMonE2E";
    const manager = new WindowsServiceManager();
    const log: string[] = [];
    const step = async (label: string, program: string, ...args: string[]) => {
      const result = await run(program, ...args);
      log.push(`> ${label}\n${result.output}`);
      return result;
    };
    try {
      const pkg = `${tmp}\\package`;
      await Deno.mkdir(pkg);
      await Deno.copyFile(exe!, `${pkg}\\winagentUSM.exe`);
      await Deno.writeTextFile(`${pkg}\\server-ca.pem`, server.certificate!.caPem!);
      await Deno.writeTextFile(
        `${pkg}\\config.ini`,
        [
          "[API]",
          `api_key = ${KEY}`,
          `server_url = ${server.url}`,
          `tls_ca_file = ${pkg}\\server-ca.pem`,
          "timezone = UTC",
          `install_dir = ${installDir}`,
          "",
        ].join("\r\n"),
      );

      // Install from the package folder, as the server's install_service.bat does.
      const install = await step(
        "install",
        `${pkg}\\winagentUSM.exe`,
        "-service",
        "install",
        "-config",
        `${pkg}\\config.ini`,
      );
      assert.equal(install.code, 0, install.output);
      assert.match(install.output, /RUNNING/);
      assert.ok(!install.output.includes(KEY), "the API key is never printed");
      assert.ok(
        sameDescriptor(readDescriptor(installDir), INSTALL_DIR_SDDL),
        readDescriptor(installDir),
      );
      assert.ok(
        sameDescriptor(readDescriptor(`${installDir}\\winagentUSM.exe`), AGENT_FILE_SDDL),
        readDescriptor(`${installDir}\\winagentUSM.exe`),
      );
      assert.ok(await exists(`${installDir}\\uninstall.bat`));

      manager.control(encodeTestControl(5, 1)); // a logon through HandlerEx
      const logon = await until(
        "the Logon at the HTTPS double",
        () => server.stored().find((e) => e.eventType === "Logon"),
      );
      assert.ok(logon.userName.length > 0);

      // Upgrade over the running service: the old process exits before the exe is replaced.
      const before = manager.state();
      assert.equal(before.state, "RUNNING");
      const upgrade = await step(
        "upgrade",
        `${pkg}\\winagentUSM.exe`,
        "-service",
        "install",
        "-config",
        `${pkg}\\config.ini`,
      );
      assert.equal(upgrade.code, 0, upgrade.output);
      assert.match(upgrade.output, /updated/);
      const after = manager.state();
      assert.equal(after.state, "RUNNING");
      assert.notEqual(after.pid, before.pid);
      manager.control(encodeTestControl(7, 1)); // a lock after the upgrade
      await until(
        "the Lock after the upgrade",
        () => server.stored().find((e) => e.eventType === "Lock"),
      );

      // remove --purge from the installed exe: it cannot delete itself; the output says how.
      const purge = await step(
        "remove --purge from the installed exe",
        `${installDir}\\winagentUSM.exe`,
        "--service",
        "remove",
        "--purge",
        "--config",
        `${installDir}\\config.ini`,
      );
      assert.equal(purge.code, 0, purge.output);
      assert.match(
        purge.output,
        /renamed to .*Windows deletes it and the folder at the next restart/,
      );
      assert.equal(manager.state().state, "not installed");
      const left = [...Deno.readDirSync(installDir)].map((e) => e.name);
      assert.equal(left.length, 1, left.join(", "));
      assert.match(left[0], /^winagentUSM\.exe\.\d+\.delete\.tmp$/);

      // Install again, then uninstall.bat: nothing is left.
      const again = await step(
        "install again",
        `${pkg}\\winagentUSM.exe`,
        "-service",
        "install",
        "-config",
        `${pkg}\\config.ini`,
      );
      assert.equal(again.code, 0, again.output);
      const bat = await step("uninstall.bat", "cmd", "/c", `${installDir}\\uninstall.bat`);
      assert.equal(bat.code, 0, bat.output);
      assert.equal(manager.state().state, "not installed");
      await until("the install folder gone", async () => !(await exists(installDir)));
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- output ---\n${log.join("\n")}`, {
        cause: error,
      });
    } finally {
      if (manager.state().state !== "not installed") {
        await manager.action("remove", { print: () => {} }).catch(() => {});
      }
      await server.stop();
      await Deno.remove(installDir, { recursive: true }).catch(() => {});
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
