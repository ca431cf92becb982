/**
 * The MSI's tables, on Linux: the WiX source, the post-wixl SQL, and (with wixl and msitools
 * installed, as .ci/run does) a real package read back with msiinfo. The package is installed
 * for real under Wine by tests/windows/msi_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  afterWixl,
  buildMsi,
  HIDE_TARGET,
  MSI_PROPERTIES,
  msiTable,
  productVersion,
  SECRET_ACTIONS,
  UPGRADE_CODE,
  wixSource,
} from "./msi.ts";

const DEFERRED = 0x400;
const NO_IMPERSONATE = 0x800;

function installed(command: string): boolean {
  try {
    new Deno.Command(command, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return true;
  } catch {
    return false;
  }
}
const tools = installed("wixl") && installed("msiinfo") && installed("msibuild");
if (!tools) {
  console.warn(
    "scripts/msi_test.ts: wixl/msitools not installed, the package test is skipped " +
      "(apt-get install -y wixl msitools)",
  );
}

Deno.test("productVersion keeps major.minor.patch and refuses what an MSI cannot hold", () => {
  assert.equal(productVersion("0.1.0"), "0.1.0");
  assert.equal(productVersion("1.2.3-rc.1"), "1.2.3");
  assert.throws(() => productVersion("1.2"), TypeError);
  assert.throws(() => productVersion("256.0.0"), RangeError);
});

Deno.test("the WiX source runs the agent's own CLI as SYSTEM, deferred, with every property", () => {
  const wxs = wixSource({ exe: "winagentUSM.exe", version: "1.2.3" });
  assert.match(wxs, /Version="1\.2\.3"/);
  assert.match(wxs, new RegExp(`UpgradeCode="${UPGRADE_CODE}"`));
  assert.match(wxs, /<Product Id="\*"/, "a new ProductCode per build");
  assert.match(wxs, /<MajorUpgrade /);
  assert.match(wxs, /MsiHiddenProperties" Value="API_KEY;USM_ARG_KEY"/);
  for (const name of ["SERVER_URL", "API_KEY", "CERT_SHA256", "CONFIG", "INSTALL_DIR", "PURGE"]) {
    assert.ok(wxs.includes(`[${name}]`) || wxs.includes(`${name}=`), name);
  }
  assert.match(
    wxs,
    /Id="AgentInstall" FileKey="AgentExe" ExeCommand="--service install --install-dir &quot;\[AGENTDIR\]&quot;/,
  );
  assert.match(wxs, /ExeCommand="--service remove --config &quot;\[AGENTDIR\]\\config\.ini&quot;/);
  assert.match(wxs, /Execute="deferred" Impersonate="no"/);
  assert.match(wxs, /NOT UPGRADINGPRODUCTCODE/);
});

Deno.test("afterWixl hides the key's actions and adds the secure properties and upgrade row", () => {
  const queries = afterWixl({
    version: "1.2.3",
    customActions: [["AgentInstall", "3090", "AgentExe", "x"], ["SetArgApiKey", "51", "P", "v"], [
      "SetArgUrl",
      "51",
      "P",
      "v",
    ]],
    properties: [["SecureCustomProperties", "WIX_UPGRADE_DETECTED"]],
  });
  assert.ok(queries.includes(
    `UPDATE \`CustomAction\` SET \`Type\` = ${
      3090 | HIDE_TARGET
    } WHERE \`Action\` = 'AgentInstall'`,
  ));
  assert.ok(
    queries.some((q) => q.includes(`${51 | HIDE_TARGET} WHERE \`Action\` = 'SetArgApiKey'`)),
  );
  assert.ok(!queries.some((q) => q.includes("'SetArgUrl'")));
  const secure = queries.find((q) => q.includes("SecureCustomProperties"))!;
  for (const name of ["WIX_UPGRADE_DETECTED", ...MSI_PROPERTIES]) assert.ok(secure.includes(name));
  assert.ok(queries.some((q) => q.includes("INSERT INTO `Upgrade`") && q.includes("769")));
});

Deno.test({
  name: "deno task msi builds a package whose tables say what docs/administration.md says",
  ignore: !tools,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "usm-msi-test-" });
    try {
      const exe = join(dir, "winagentUSM.exe");
      await Deno.writeFile(exe, new Uint8Array([0x4d, 0x5a, ...new Uint8Array(1022)]));
      const msi = await buildMsi({ exe, version: "3.4.5", output: join(dir, "agent.msi") });
      const actions = new Map(
        (await msiTable(msi, "CustomAction")).map(([a, type, source, target]) => [
          a,
          { type: Number(type), source, target },
        ]),
      );
      for (const name of SECRET_ACTIONS) {
        assert.ok(actions.get(name)!.type & HIDE_TARGET, `${name} has HideTarget`);
      }
      for (const name of ["AgentInstall", "AgentRemove", "AgentDeleteExe"]) {
        const { type } = actions.get(name)!;
        assert.equal(type & (DEFERRED | NO_IMPERSONATE), DEFERRED | NO_IMPERSONATE, name);
      }
      assert.ok(!(actions.get("AgentRemove")!.type & HIDE_TARGET));
      const properties = new Map(await msiTable(msi, "Property") as [string, string][]);
      assert.equal(properties.get("ProductVersion"), "3.4.5");
      assert.equal(properties.get("UpgradeCode"), `{${UPGRADE_CODE}}`);
      assert.equal(properties.get("MsiHiddenProperties"), "API_KEY;USM_ARG_KEY");
      const files = await msiTable(msi, "File");
      assert.ok(files.some((row) => row[2].endsWith("winagentUSM.exe")), String(files));
      const sequence = new Map(
        (await msiTable(msi, "InstallExecuteSequence")).map(([a, , n]) => [a, Number(n)]),
      );
      assert.ok(sequence.get("AgentRemove")! > sequence.get("InstallInitialize")!);
      assert.ok(sequence.get("AgentRemove")! < sequence.get("RemoveFiles")!);
      assert.ok(sequence.get("AgentInstall")! > sequence.get("InstallFiles")!);
      assert.ok(sequence.get("AgentInstall")! < sequence.get("InstallFinalize")!);
      assert.ok(sequence.get("ClearAPI_KEY")! > sequence.get("InstallFinalize")!);
      const registry = await msiTable(msi, "Registry");
      const messageFile = registry.find((row) => row[3] === "EventMessageFile")!;
      assert.equal(messageFile[4], "#%%SystemRoot%\\System32\\EventCreate.exe", "REG_EXPAND_SZ");
      assert.match(messageFile[2], /EventLog\\Application\\UserSessionMonService$/);
      const upgrades = await msiTable(msi, "Upgrade");
      assert.equal(upgrades.length, 3, String(upgrades));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
