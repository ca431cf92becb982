/**
 * The MSI's tables, on Linux: the WiX source, the post-wixl SQL, and (with wixl and msitools
 * installed, as .ci/run does) a real package read back with msiinfo. The package is installed
 * for real under Wine by tests/windows/msi_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { agentVersionInfo, withVersionResource } from "./version_resource.ts";
import {
  afterWixl,
  buildMsi,
  CONFIG_PROPERTIES,
  HIDE_TARGET,
  msiTable,
  productCode,
  productVersion,
  SECRET_ACTIONS,
  UPGRADE_CODE,
  wixSource,
} from "./msi.ts";

const DEFERRED = 0x400;
const NO_IMPERSONATE = 0x800;
const ROLLBACK = 0x100;

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

Deno.test("the ProductCode is derived from the version: the same for two builds, another for another version", () => {
  assert.equal(productCode("1.2.3"), productCode("1.2.3-rc.1"));
  assert.notEqual(productCode("1.2.3"), productCode("1.2.4"));
  assert.match(
    productCode("1.2.3"),
    /^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/,
  );
  assert.notEqual(productCode("1.2.3"), UPGRADE_CODE);
});

Deno.test("the WiX source runs the agent's own CLI as SYSTEM, deferred; the API key on no command line", () => {
  const wxs = wixSource({ exe: "winagentUSM.exe", version: "1.2.3" });
  assert.match(wxs, /Version="1\.2\.3"/);
  assert.match(wxs, new RegExp(`UpgradeCode="${UPGRADE_CODE}"`));
  assert.match(wxs, new RegExp(`<Product Id="${productCode("1.2.3")}"`));
  assert.match(wxs, /<MajorUpgrade /);
  assert.match(wxs, /MsiHiddenProperties" Value="API_KEY"/);
  for (const name of ["SERVER_URL", "API_KEY", "CERT_SHA256", "CONFIG", "INSTALL_DIR", "PURGE"]) {
    assert.ok(wxs.includes(`[${name}]`) || wxs.includes(`${name}=`), name);
  }
  assert.match(
    wxs,
    /Id="AgentInstall" FileKey="AgentExe" ExeCommand="--service install --install-dir &quot;\[AGENTDIR\]&quot;/,
  );
  // The key reaches the agent through the locked Setup key, never through an ExeCommand.
  for (const line of wxs.split("\n").filter((l) => l.includes("ExeCommand"))) {
    assert.ok(!line.includes("API_KEY") && !line.includes("api-key"), line);
  }
  assert.match(
    wxs,
    /Key="SOFTWARE\\UserSessionMon\\Setup" Name="ApiKey"\s+Type="string" Value="\[API_KEY\]"/,
  );
  assert.match(wxs, /ExeCommand="--service remove --config &quot;\[AGENTDIR\]\\config\.ini&quot;/);
  assert.match(wxs, /Execute="deferred" Impersonate="no"/);
  assert.match(wxs, /Execute="rollback" Impersonate="no"/);
  assert.match(wxs, /NOT UPGRADINGPRODUCTCODE/);
  // A repair (Installed) ignores every configuration property.
  for (const name of ["INSTALL_DIR", "CONFIG", "SERVER_URL", "CERT_SHA256"]) {
    assert.match(wxs, new RegExp(`>${name} AND NOT Installed<`), name);
  }
  assert.match(wxs, /Name="Version" Type="string" Value="\[ProductVersion\]"/);
});

Deno.test("afterWixl: HideTarget on the agent's command line, no configuration property in SecureCustomProperties", () => {
  const queries = afterWixl({
    version: "1.2.3",
    customActions: [["AgentInstall", "3090", "AgentExe", "x"], ["SetArgUrl", "51", "P", "v"]],
    properties: [[
      "SecureCustomProperties",
      "WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED;SERVER_URL",
    ]],
    components: [["ApiKeyValue", "{X}", "INSTALLFOLDER", "260", "", "SetupApiKey"]],
    fileVersion: "1.2.3.4",
  });
  assert.ok(queries.includes(
    `UPDATE \`CustomAction\` SET \`Type\` = ${
      3090 | HIDE_TARGET
    } WHERE \`Action\` = 'AgentInstall'`,
  ));
  assert.ok(!queries.some((q) => q.includes("'SetArgUrl'")));
  const secure = queries.find((q) => q.includes("SecureCustomProperties"))!;
  assert.match(secure, /'WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED;PURGE'/);
  for (const name of CONFIG_PROPERTIES) assert.ok(!secure.includes(name), name);
  assert.ok(queries.some((q) => q.includes("`Version` = '1.2.3.4' WHERE `File` = 'AgentExe'")));
  assert.ok(
    queries.some((q) =>
      q.includes("`Attributes` = 324, `Condition` = 'API_KEY AND NOT Installed' WHERE")
    ),
  );
  assert.ok(
    queries.some((q) => q.includes("SET `Sequence` = 1510") && q.includes("RemoveExisting")),
  );
});

/** A small PE with the agent's version resource (mingw-w64), or a bare "MZ" file without it. */
async function testExe(dir: string, version: string): Promise<Uint8Array> {
  const c = join(dir, "main.c");
  await Deno.writeTextFile(c, "int main(void) { return 0; }\n");
  const output = join(dir, "plain.exe");
  try {
    const built = await new Deno.Command("x86_64-w64-mingw32-gcc", {
      args: ["-O2", "-s", c, "-o", output],
      stdout: "null",
      stderr: "null",
    }).output();
    if (built.success) {
      return withVersionResource(await Deno.readFile(output), agentVersionInfo(version));
    }
  } catch {
    // no mingw-w64: the File.Version then comes from the product version
  }
  return new Uint8Array([0x4d, 0x5a, ...new Uint8Array(1022)]);
}

async function table(msi: string, name: string): Promise<string[][]> {
  return await msiTable(msi, name);
}

Deno.test({
  name: "deno task msi builds a package whose tables say what docs/administration.md says",
  ignore: !tools,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "usm-msi-test-" });
    try {
      const exe = join(dir, "winagentUSM.exe");
      const bytes = await testExe(dir, "3.4.5.7");
      const stamped = bytes.length > 1024;
      await Deno.writeFile(exe, bytes);
      const msi = await buildMsi({ exe, version: "3.4.5", output: join(dir, "agent.msi") });
      const again = await buildMsi({ exe, version: "3.4.5", output: join(dir, "again.msi") });
      const actions = new Map(
        (await table(msi, "CustomAction")).map(([a, type, source, target]) => [
          a,
          { type: Number(type), source, target },
        ]),
      );
      for (const name of SECRET_ACTIONS) {
        assert.ok(actions.get(name)!.type & HIDE_TARGET, `${name} has HideTarget`);
      }
      for (const name of ["AgentInstall", "AgentRemove", "AgentDeleteExe", "AgentStop"]) {
        const { type } = actions.get(name)!;
        assert.equal(type & (DEFERRED | NO_IMPERSONATE), DEFERRED | NO_IMPERSONATE, name);
      }
      for (const name of ["AgentInstallRollback", "AgentStartRollback"]) {
        const { type } = actions.get(name)!;
        assert.equal(
          type & (DEFERRED | ROLLBACK),
          DEFERRED | ROLLBACK,
          `${name} is a rollback action`,
        );
      }
      for (const [name, { target }] of actions) {
        assert.ok(!/API_KEY|api-key/.test(target ?? ""), `${name}'s command line holds the key`);
      }
      const properties = new Map(await table(msi, "Property") as [string, string][]);
      assert.equal(properties.get("ProductVersion"), "3.4.5");
      assert.equal(properties.get("ProductCode"), `{${productCode("3.4.5")}}`);
      const againProperties = new Map(await table(again, "Property") as [string, string][]);
      assert.equal(againProperties.get("ProductCode"), properties.get("ProductCode"), "two builds");
      assert.equal(properties.get("UpgradeCode"), `{${UPGRADE_CODE}}`);
      assert.equal(properties.get("MsiHiddenProperties"), "API_KEY");
      const secure = properties.get("SecureCustomProperties")!.split(";");
      for (const name of CONFIG_PROPERTIES) assert.ok(!secure.includes(name), `${name} secure`);
      const files = await table(msi, "File");
      const file = files.find((row) => row[2].endsWith("winagentUSM.exe"))!;
      assert.equal(file[4], stamped ? "3.4.5.7" : "3.4.5.0", `File.Version: ${file}`);
      const sequence = new Map(
        (await table(msi, "InstallExecuteSequence")).map(([a, , n]) => [a, Number(n)]),
      );
      const at = (action: string) => sequence.get(action)!;
      assert.ok(at("RemoveExistingProducts") > at("InstallInitialize"));
      assert.ok(at("AgentStop") < at("RemoveExistingProducts"), "the service stops first");
      assert.ok(at("RemoveExistingProducts") < at("InstallFiles"), "the old product goes first");
      assert.ok(at("AgentRemove") > at("InstallInitialize"));
      assert.ok(at("AgentRemove") < at("RemoveFiles"));
      assert.ok(at("AgentInstallRollback") < at("AgentInstall"));
      assert.ok(at("AgentInstall") > at("InstallFiles"));
      assert.ok(at("AgentInstall") < at("InstallFinalize"));
      assert.ok(at("ClearAPI_KEY") > at("InstallFinalize"));
      assert.ok(at("RefuseInstallDir") < at("InstallInitialize"));
      assert.equal(actions.get("RefuseInstallDir")!.type, 19, "an error action");
      const conditions = new Map(
        (await table(msi, "InstallExecuteSequence")).map(([a, c]) => [a, c]),
      );
      assert.equal(conditions.get("RefuseInstallDir"), 'INSTALL_DIR >> "\\" AND NOT Installed');
      const registry = await table(msi, "Registry");
      const messageFile = registry.find((row) => row[3] === "EventMessageFile")!;
      assert.equal(messageFile[4], "#%%SystemRoot%\\System32\\EventCreate.exe", "REG_EXPAND_SZ");
      assert.match(messageFile[2], /EventLog\\Application\\UserSessionMonService$/);
      assert.ok(registry.some((row) => row[3] === "Version" && row[4] === "[ProductVersion]"));
      const key = registry.find((row) => row[3] === "ApiKey")!;
      assert.deepEqual([key[0], key[2], key[4]], [
        "SetupApiKey",
        "SOFTWARE\\UserSessionMon\\Setup",
        "[API_KEY]",
      ]);
      const locks = await table(msi, "MsiLockPermissionsEx");
      assert.deepEqual(locks.map((row) => row.slice(1, 4)), [[
        "SetupApiKey",
        "Registry",
        "D:P(A;;KA;;;SY)(A;;KA;;;BA)",
      ]]);
      const texts = await table(msi, "ActionText");
      assert.deepEqual(
        texts.find(([a]) => a === "WriteRegistryValues")?.[2],
        "Key: [1], Name: [2]",
      );
      const component = (await table(msi, "Component")).find(([id]) => id === "ApiKeyValue")!;
      assert.ok(Number(component[3]) & 0x40, "transitive");
      assert.equal(component[4], "API_KEY AND NOT Installed");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
