/**
 * The MSI end to end under the real msiexec (Windows / Wine), with the packages that
 * scripts/msi_dev_build.ts made on Linux before Wine started (scripts/wine_test.sh runs it):
 * a development stand-in for winagentUSM.exe (scripts/msi/dev_launcher.c: runs this checkout's
 * mod.ts with deno.exe) in MSIs of the version in deno.json and of the next patch version.
 *
 * silent install with SERVER_URL, API_KEY, CERT_SHA256, CONFIG and INSTALL_DIR → the service
 * RUNNING, config.ini holds the properties, a health check and a Logon reach the reference
 * server → the newer MSI upgrades in place (one product installed, config.ini and
 * event_log.csv kept, the service delivers again) → uninstall keeps the data → install again and
 * uninstall with PURGE=1 removes the folder. No msiexec log (/l*v) holds the API key.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { WindowsServiceManager } from "../../src/windows/mgr/service_manager.ts";
import { encodeTestControl } from "./test_controls.ts";
import { ReferenceServer } from "../support/reference_server.ts";
import { PRODUCT_NAME } from "../../scripts/msi.ts";
import { until as untilWithin } from "./support.ts";

const ignore = Deno.build.os !== "windows";
const MANIFEST = fileURLToPath(new URL("../../.dev/msi/manifest.json", import.meta.url));
const KEY = "usm-msi-key-5f0c2b9e7d41a8c3";
const PIN = "ab".repeat(32);

interface Manifest {
  launcher: string;
  msis: { version: string; path: string; productCode: string }[];
}

function openMsi() {
  return Deno.dlopen("msi.dll", {
    // INSTALLSTATE MsiQueryProductStateW(LPCWSTR szProduct)
    MsiQueryProductStateW: { parameters: ["buffer"], result: "i32" },
    // UINT MsiEnumProductsW(DWORD iProductIndex, LPWSTR lpProductBuf /* 39 WCHARs */)
    MsiEnumProductsW: { parameters: ["u32", "buffer"], result: "u32" },
    // UINT MsiGetProductInfoW(LPCWSTR szProduct, LPCWSTR szAttribute, LPWSTR lpValueBuf,
    //   LPDWORD pcchValueBuf)
    MsiGetProductInfoW: { parameters: ["buffer", "buffer", "buffer", "buffer"], result: "u32" },
  });
}

function wide(text: string): Uint16Array {
  return new Uint16Array([...text].map((c) => c.charCodeAt(0)).concat(0));
}

/** MsiQueryProductStateW: 5 (INSTALLSTATE_DEFAULT) installed, -1 (UNKNOWN) not installed. */
function productState(productCode: string): number {
  const msi = openMsi();
  try {
    return msi.symbols.MsiQueryProductStateW(wide(productCode));
  } finally {
    msi.close();
  }
}

/**
 * The installed products named like the agent's (MsiEnumRelatedProductsW finds nothing under
 * Wine: it does not register upgrade codes where that function looks).
 */
function agentProducts(): string[] {
  const msi = openMsi();
  const decoder = new TextDecoder("utf-16le");
  try {
    const codes: string[] = [];
    const code = new Uint16Array(39);
    for (let i = 0; msi.symbols.MsiEnumProductsW(i, code) === 0; i++) {
      const name = new Uint16Array(256);
      const size = new Uint32Array([name.length]);
      const product = decoder.decode(code.subarray(0, 38));
      if (msi.symbols.MsiGetProductInfoW(wide(product), wide("ProductName"), name, size) !== 0) {
        continue;
      }
      if (decoder.decode(name.subarray(0, size[0])) === PRODUCT_NAME) codes.push(product);
    }
    return codes;
  } finally {
    msi.close();
  }
}

/** Uninstalls every installed version of the agent (what an earlier, failed run left). */
async function removeAll(): Promise<void> {
  for (const code of agentProducts()) await msiexec(`/x ${code} /qn`);
}

/** Runs msiexec with exactly this command line (msiexec parses `NAME="a b"` itself). */
async function msiexec(commandLine: string): Promise<{ code: number; ms: number }> {
  const t0 = performance.now();
  const { code } = await new Deno.Command("msiexec", {
    args: [commandLine],
    windowsRawArguments: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return { code, ms: performance.now() - t0 };
}

/** msiexec's installs and the service's starts take longer: a minute, polled every 200 ms. */
const until = <T>(what: string, probe: () => T | undefined | Promise<T | undefined>) =>
  untilWithin(what, probe, { timeoutMs: 60_000, everyMs: 200 });

/** A log's text, whatever its encoding (Windows writes ANSI or UTF-16 logs). */
async function logText(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  return new TextDecoder("utf-8").decode(bytes) + new TextDecoder("utf-16le").decode(bytes);
}

/** `reg query` of the agent's Event Log source: its output, or undefined when the key is gone. */
async function eventSource(): Promise<string | undefined> {
  const { success, stdout } = await new Deno.Command("reg", {
    args: [
      "query",
      "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\UserSessionMonService",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  return success ? new TextDecoder().decode(stdout) : undefined;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test({
  name: "msi: silent install, delivery, upgrade keeps data, uninstall, PURGE=1; no key in logs",
  ignore,
  sanitizeResources: false, // the reference server's connections close asynchronously
  sanitizeOps: false,
  async fn() {
    const manifest: Manifest = JSON.parse(
      await Deno.readTextFile(MANIFEST).catch(() => {
        throw new Error(
          `No ${MANIFEST}: scripts/wine_test.sh builds the MSIs before Wine starts ` +
            "(deno run -A scripts/msi_dev_build.ts; needs wixl, msitools and mingw-w64)",
        );
      }),
    );
    const [older, newer] = manifest.msis;
    await removeAll();
    const server = await ReferenceServer.start({
      port: 0,
      tls: false,
      apiKeys: [KEY],
      rateLimit: null,
    });
    const tmp = await Deno.makeTempDir({ prefix: "usm-msi-" });
    const installDir = `${tmp}\\Agent Data`;
    const configPath = `${installDir}\\config.ini`;
    const journal = `${installDir}\\event_log.csv`;
    const binary = "C:\\Program Files\\UserSessionMon\\winagentUSM.exe";
    const manager = new WindowsServiceManager();
    // Logs outside the prefix (Z:\tmp is the chroot's /tmp), kept when the test fails.
    const logDir = await Deno.makeTempDir({ dir: "Z:\\tmp", prefix: "usm-msi-logs-" });
    const logs: string[] = [];
    const log = (name: string) => {
      logs.push(`${logDir}\\${name}.log`);
      return `/l*v "${logDir}\\${name}.log"`;
    };
    let passed = false;
    try {
      const imported = `${tmp}\\import.ini`;
      await Deno.writeTextFile(
        imported,
        ["[API]", "timezone = UTC", "health_check_interval = 30", ""].join("\r\n"),
      );

      // 1. Silent install with every property.
      const install = await msiexec(
        `/i "${older.path}" /qn SERVER_URL=http://127.0.0.1:${server.port} API_KEY=${KEY} ` +
          `CERT_SHA256=${PIN} CONFIG="${imported}" INSTALL_DIR="${installDir}" ${log("install")}`,
      );
      console.log(
        `measured: msiexec /i ${older.version} exit ${install.code} in ${install.ms.toFixed(0)} ms`,
      );
      assert.equal(install.code, 0, await logText(logs[0]).catch(() => "no log"));
      assert.equal(manager.state().state, "RUNNING");
      assert.ok(await exists(binary), `${binary} installed`);
      const config = await Deno.readTextFile(configPath);
      assert.match(config, new RegExp(`server_url = http://127.0.0.1:${server.port}`));
      assert.match(config, new RegExp(`api_key = ${KEY}`));
      assert.match(config, new RegExp(`tls_server_sha256 = ${PIN}`));
      assert.match(config, /timezone = UTC/, "CONFIG imported");
      assert.match(config, /install_dir = .*Agent Data/);
      assert.match(
        (await eventSource()) ?? "no event source",
        /EventMessageFile\s+REG_EXPAND_SZ\s+%SystemRoot%\\System32\\EventCreate\.exe/,
      );

      // 2. The service delivers: the start-up health check, then a Logon through HandlerEx.
      await until(
        "the health check at start",
        () =>
          server.requests().some((r) => r.path === "/api/health" && r.headers["x-api-key"] === KEY),
      );
      manager.control(encodeTestControl(5, 1));
      await until(
        "the Logon at the server",
        () => server.stored().find((e) => e.eventType === "Logon"),
      );
      const journalBefore = await Deno.readTextFile(journal);

      // 3. Upgrade by the newer MSI, without properties: config.ini and event_log.csv kept.
      const upgrade = await msiexec(`/i "${newer.path}" /qn ${log("upgrade")}`);
      console.log(
        `measured: msiexec /i ${newer.version} (upgrade) exit ${upgrade.code} in ${
          upgrade.ms.toFixed(0)
        } ms`,
      );
      assert.equal(upgrade.code, 0, await logText(logs[1]).catch(() => "no log"));
      assert.equal(manager.state().state, "RUNNING");
      assert.ok(await exists(binary), `${binary} still there after the upgrade`);
      assert.match(await Deno.readTextFile(configPath), new RegExp(`api_key = ${KEY}`));
      assert.ok((await Deno.readTextFile(journal)).startsWith(journalBefore), "event_log.csv kept");
      // A major upgrade, not side by side: only the newer product is installed.
      assert.equal(productState(older.productCode), -1, "the older product is removed");
      assert.equal(productState(newer.productCode), 5, "the newer product is installed");
      assert.deepEqual(agentProducts(), [newer.productCode]);
      // The same package again (a startup script at every boot): nothing is reinstalled.
      const pid = manager.state().pid;
      const rerun = await msiexec(`/i "${newer.path}" /qn ${log("rerun")}`);
      assert.equal(rerun.code, 0);
      assert.equal(manager.state().pid, pid, "a second msiexec /i does not restart the service");
      manager.control(encodeTestControl(8, 1));
      await until(
        "the Unlock after the upgrade",
        () => server.stored().find((e) => e.eventType === "Unlock"),
      );

      // 4. Uninstall: the service and the binary go, the data stays.
      const remove = await msiexec(`/x "${newer.path}" /qn ${log("uninstall")}`);
      console.log(`measured: msiexec /x exit ${remove.code} in ${remove.ms.toFixed(0)} ms`);
      assert.equal(remove.code, 0, await logText(logs[2]).catch(() => "no log"));
      assert.equal(manager.state().state, "not installed");
      assert.ok(!(await exists(binary)), "the binary is removed");
      assert.ok(await exists(configPath), "config.ini kept");
      assert.ok(await exists(journal), "event_log.csv kept");
      assert.equal(await eventSource(), undefined, "the Event Log source is removed");

      // 5. Install again (the kept config.ini is used as it is), then uninstall with PURGE=1.
      const again = await msiexec(
        `/i "${newer.path}" /qn INSTALL_DIR="${installDir}" ${log("again")}`,
      );
      assert.equal(again.code, 0, await logText(logs[3]).catch(() => "no log"));
      assert.equal(manager.state().state, "RUNNING");
      assert.match(await Deno.readTextFile(configPath), new RegExp(`api_key = ${KEY}`));
      const purge = await msiexec(`/x "${newer.path}" /qn PURGE=1 ${log("purge")}`);
      assert.equal(purge.code, 0, await logText(logs[4]).catch(() => "no log"));
      assert.equal(manager.state().state, "not installed");
      assert.ok(!(await exists(installDir)), "PURGE=1 removes the agent's folder");

      // 6. No log holds the API key.
      for (const path of logs) {
        const text = await logText(path);
        assert.ok(text.length > 0, `${path} is empty`);
        assert.ok(!text.includes(KEY), `${path} holds the API key`);
      }
      passed = true;
    } finally {
      if (passed) await Deno.remove(logDir, { recursive: true });
      else console.log(`msiexec logs kept in ${logDir}`);
      await removeAll();
      if (manager.state().state !== "not installed") {
        await manager.action("remove", { print: () => {} }).catch(() => {});
      }
      await server.stop();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
