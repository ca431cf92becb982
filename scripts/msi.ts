/**
 * `deno task msi [winagentUSM.exe] [--version x.y.z] [--output file.msi]`: builds
 * `dist/winagentUSM-<version>.msi` (version from deno.json) around a given winagentUSM.exe
 * (default dist/winagentUSM.exe) with msitools' `wixl`, then marks the custom actions that carry
 * the API key "HideTarget" with msitools' `msibuild` (wixl has no attribute for that bit).
 *
 * What the package does (README "Deploy to many PCs"):
 * - files: winagentUSM.exe into `%ProgramFiles%\UserSessionMon` (admin-only by inheritance); the
 *   agent's folder (`INSTALL_DIR`, default `%ProgramData%\UserSessionMon`) in
 *   `HKLM\SOFTWARE\UserSessionMon\InstallDir`, read back at upgrade and uninstall, and the
 *   ProductCode of the package that installed the agent last in `...\ProductCode`; the Event Log
 *   source `UserSessionMonService` (message file EventCreate.exe, see src/windows/eventlog/app_event_log.ts).
 * - install (also repair and the install half of an upgrade): one deferred custom action, as
 *   SYSTEM (no impersonation), runs `winagentUSM.exe --service install --install-dir <dir>
 *   [--config CONFIG] [--url SERVER_URL] [--api-key API_KEY] [--cert-sha256 CERT_SHA256]`: the
 *   agent's own install makes the folder, gives it the protected DACL before any file is written
 *   in it, copies itself there, writes config.ini and creates and starts the service.
 * - uninstall (not the removal half of an upgrade): `--service remove --config <dir>\config.ini`
 *   (`--purge` with `PURGE=1`), then the copy of the exe in the agent's folder is deleted.
 * - major upgrade: stable UpgradeCode, a new ProductCode per build; the old product is removed
 *   first (its service is left alone) and the new `--service install` stops the service,
 *   replaces the exe and keeps config.ini, event_log.csv and the logs.
 * - the API key: `API_KEY` and the property built from it are in MsiHiddenProperties, and the
 *   custom actions that hold it have msidbCustomActionTypeHideTarget, so no log shows it.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { basename, join, resolve } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Stable across every version: it is what makes a newer MSI an upgrade of an older one. */
export const UPGRADE_CODE = "6F1B2A3C-5D4E-4F60-8A7B-9C0D1E2F3A4B";
const EXE_COMPONENT_GUID = "2B7E51C4-0E8F-4C1D-9A3B-6D5C4E3F2A10";
const REG_COMPONENT_GUID = "8C9D0E1F-2A3B-4C5D-8E7F-0A1B2C3D4E5F";
/** The product's name (Programs and Features). */
export const PRODUCT_NAME = "User Session Monitor Agent";
/** Where the MSI remembers the agent's folder between install, upgrade and uninstall. */
export const REGISTRY_KEY = "SOFTWARE\\UserSessionMon";

/** The Event Log source the package registers (the same as src/windows/eventlog/app_event_log.ts). */
export const EVENT_SOURCE_KEY =
  "SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\UserSessionMonService";
/** Windows' own message file whose IDs 1..1000 read "%1". */
export const EVENT_MESSAGE_FILE = "%SystemRoot%\\System32\\EventCreate.exe";

/** msidbCustomActionTypeHideTarget: the action's target is never written to a log. */
export const HIDE_TARGET = 0x2000;
/** Custom actions whose target holds the API key. */
export const SECRET_ACTIONS = ["SetArgApiKey", "AgentInstall"] as const;

/** Set empty after InstallFinalize: the properties that hold the API key. */
const CLEARED = ["ClearAPI_KEY", "ClearUSM_ARG_KEY"] as const;

/** The public properties the package reads (README "MSI properties"). */
export const MSI_PROPERTIES = [
  "SERVER_URL",
  "API_KEY",
  "CERT_SHA256",
  "CONFIG",
  "INSTALL_DIR",
  "PURGE",
] as const;

/** Options of {@link wixSource}. */
export interface WixOptions {
  /** The winagentUSM.exe to package, relative to the folder of the .wxs file. */
  exe: string;
  /** The product version (numeric x.y.z). */
  version: string;
}

/** An MSI ProductVersion from a deno.json version: numeric major.minor.build, no suffix. */
export function productVersion(version: string): string {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!match) throw new TypeError(`Invalid version "${version}": expected major.minor.patch`);
  const [major, minor, build] = match.slice(1).map(Number);
  if (major > 255 || minor > 255 || build > 65535) {
    throw new RangeError(`Invalid version "${version}": an MSI allows 255.255.65535 at most`);
  }
  return `${major}.${minor}.${build}`;
}

function xml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** The WiX source of the package (the subset of WiX that wixl reads). */
export function wixSource(options: WixOptions): string {
  const version = productVersion(options.version);
  const dir = "[AGENTDIR]";
  const installArgs = `--service install --install-dir "${dir}"` +
    "[USM_ARG_CONFIG][USM_ARG_URL][USM_ARG_KEY][USM_ARG_CERT]";
  const removeArgs = `--service remove --config "${dir}\\config.ini"[USM_ARG_PURGE]`;
  const deleteArgs = `/d /c if exist "${dir}\\winagentUSM.exe" del /f /q "${dir}\\winagentUSM.exe"`;
  // Not the removal half of an upgrade: Windows sets UPGRADINGPRODUCTCODE there; Wine's
  // msiexec does not, and removes the older product after the newer one is installed, which
  // has by then written its own ProductCode as the owner of the agent.
  const uninstalling =
    'REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE AND (NOT USM_OWNER OR USM_OWNER = ProductCode)';
  const installing = 'NOT REMOVE~="ALL" AND (NOT Installed OR REINSTALL)';
  const setters: [string, string, string, string][] = [
    // [action, property, value, condition]
    ["SetAgentDirFromProperty", "AGENTDIR", "[INSTALL_DIR]", "INSTALL_DIR"],
    ["SetAgentDirDefault", "AGENTDIR", "[CommonAppDataFolder]UserSessionMon", "NOT AGENTDIR"],
    ["SetArgConfig", "USM_ARG_CONFIG", ' --config "[CONFIG]"', "CONFIG"],
    ["SetArgUrl", "USM_ARG_URL", ' --url "[SERVER_URL]"', "SERVER_URL"],
    ["SetArgApiKey", "USM_ARG_KEY", ' --api-key "[API_KEY]"', "API_KEY"],
    ["SetArgCert", "USM_ARG_CERT", " --cert-sha256 [CERT_SHA256]", "CERT_SHA256"],
    ["SetArgPurge", "USM_ARG_PURGE", " --purge", 'PURGE="1"'],
    ["SetCmdPath", "USM_CMD", "[System64Folder]cmd.exe", ""],
  ];
  const lines = [
    `<?xml version="1.0" encoding="utf-8"?>`,
    `<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">`,
    `  <Product Id="*" Name="${PRODUCT_NAME}" Language="1033" Version="${version}"`,
    `           Manufacturer="UserSessionMon" UpgradeCode="${UPGRADE_CODE}">`,
    `    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"`,
    `             Description="User Session Monitor Agent ${version}"`,
    `             Comments="Records Windows session events and sends them to the server" />`,
    `    <MajorUpgrade DowngradeErrorMessage="A newer version of the User Session Monitor Agent is already installed." />`,
    `    <Media Id="1" Cabinet="agent.cab" EmbedCab="yes" />`,
    `    <Property Id="MsiHiddenProperties" Value="API_KEY;USM_ARG_KEY" />`,
    `    <Property Id="ARPNOMODIFY" Value="1" />`,
    `    <Property Id="AGENTDIR">`,
    `      <RegistrySearch Id="AgentDirSearch" Root="HKLM" Key="${REGISTRY_KEY}" Name="InstallDir"`,
    `                      Type="raw" Win64="yes" />`,
    `    </Property>`,
    `    <Property Id="USM_OWNER">`,
    `      <RegistrySearch Id="OwnerSearch" Root="HKLM" Key="${REGISTRY_KEY}" Name="ProductCode"`,
    `                      Type="raw" Win64="yes" />`,
    `    </Property>`,
    `    <Directory Id="TARGETDIR" Name="SourceDir">`,
    `      <Directory Id="ProgramFiles64Folder">`,
    `        <Directory Id="INSTALLFOLDER" Name="UserSessionMon">`,
    `          <Component Id="AgentExe" Guid="${EXE_COMPONENT_GUID}" Win64="yes">`,
    `            <File Id="AgentExe" Name="winagentUSM.exe" Source="${
      xml(options.exe)
    }" KeyPath="yes" />`,
    `          </Component>`,
    `          <Component Id="AgentDirValue" Guid="${REG_COMPONENT_GUID}" Win64="yes">`,
    `            <RegistryValue Root="HKLM" Key="${REGISTRY_KEY}" Name="InstallDir" Type="string"`,
    `                           Value="[AGENTDIR]" KeyPath="yes" />`,
    `            <RegistryValue Root="HKLM" Key="${REGISTRY_KEY}" Name="ProductCode" Type="string"`,
    `                           Value="[ProductCode]" />`,
    // The agent's Event Log source (src/windows/eventlog/app_event_log.ts), removed with the product.
    `            <RegistryValue Root="HKLM" Key="${EVENT_SOURCE_KEY}" Name="EventMessageFile"`,
    `                           Type="string" Value="${EVENT_MESSAGE_FILE}" />`,
    `            <RegistryValue Root="HKLM" Key="${EVENT_SOURCE_KEY}" Name="TypesSupported"`,
    `                           Type="integer" Value="7" />`,
    `            <RegistryValue Root="HKLM" Key="${EVENT_SOURCE_KEY}" Name="CustomSource"`,
    `                           Type="integer" Value="1" />`,
    `          </Component>`,
    `        </Directory>`,
    `      </Directory>`,
    `    </Directory>`,
    `    <Feature Id="Agent" Title="User Session Monitor Agent" Level="1">`,
    `      <ComponentRef Id="AgentExe" />`,
    `      <ComponentRef Id="AgentDirValue" />`,
    `    </Feature>`,
    ...setters.map(([id, property, value]) =>
      `    <CustomAction Id="${id}" Property="${property}" Value="${xml(value)}" />`
    ),
    ...CLEARED.map((id) =>
      `    <CustomAction Id="${id}" Property="${id.replace("Clear", "")}" Value="" />`
    ),
    `    <CustomAction Id="AgentInstall" FileKey="AgentExe" ExeCommand="${xml(installArgs)}"`,
    `                  Execute="deferred" Impersonate="no" Return="check" />`,
    `    <CustomAction Id="AgentRemove" FileKey="AgentExe" ExeCommand="${xml(removeArgs)}"`,
    `                  Execute="deferred" Impersonate="no" Return="check" />`,
    `    <CustomAction Id="AgentDeleteExe" Property="USM_CMD" ExeCommand="${xml(deleteArgs)}"`,
    `                  Execute="deferred" Impersonate="no" Return="ignore" />`,
    `    <InstallExecuteSequence>`,
    // Explicit numbers: wixl places After= actions at the end of the sequence. The setters run
    // after CostFinalize (1000), the removal right after InstallInitialize (1500), the install after the files,
    // the registry and the product registration (before InstallFinalize, 6600).
    ...setters.map(([id, , , condition], i) =>
      `      <Custom Action="${id}" Sequence="${1001 + i}">${xml(condition)}</Custom>`
    ),
    `      <Custom Action="AgentRemove" Sequence="1501">${xml(uninstalling)}</Custom>`,
    `      <Custom Action="AgentDeleteExe" Sequence="1502">${xml(uninstalling)}</Custom>`,
    // A first install, the install half of an upgrade, or a repair (msiexec /f); not a second
    // `msiexec /i` of the installed package (a startup script may run one at every boot).
    `      <Custom Action="AgentInstall" Sequence="6500">${xml(installing)}</Custom>`,
    // After InstallFinalize the deferred actions have run: drop the key from the session, so
    // the property dump at the end of a log has nothing to show even where MsiHiddenProperties
    // is not honoured (Wine's msiexec ignores it).
    ...CLEARED.map((id, i) => `      <Custom Action="${id}" Sequence="${6601 + i}">1</Custom>`),
    `    </InstallExecuteSequence>`,
    `  </Product>`,
    `</Wix>`,
    ``,
  ];
  return lines.join("\n");
}

async function run(command: string, args: string[]): Promise<string> {
  let output;
  try {
    output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `${command} is not installed: apt-get install -y wixl msitools (Debian; msitools elsewhere)`,
      );
    }
    throw error;
  }
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed:\n${text.trim()}`);
  return text;
}

/** Reads one table of an MSI as rows of tab-separated fields (msiinfo export). */
export async function msiTable(msi: string, table: string): Promise<string[][]> {
  const text = await run("msiinfo", ["export", msi, table]);
  return text.split(/\r?\n/).slice(3).filter((line) => line !== "").map((l) => l.split("\t"));
}

/** What {@link afterWixl} reads from the MSI wixl made. */
export interface WixlOutput {
  version: string;
  /** Rows of the CustomAction table: Action, Type, Source, Target. */
  customActions: string[][];
  /** Rows of the Property table: Property, Value. */
  properties: string[][];
}

/**
 * The SQL that adds what wixl cannot express: HideTarget on the custom actions that carry the
 * API key; the public properties in SecureCustomProperties (so they reach the deferred actions
 * in a managed install); and a same-version upgrade (a rebuilt MSI of the same version, with its
 * new ProductCode, replaces the installed one instead of installing beside it).
 */
export function afterWixl(msi: WixlOutput): string[] {
  const queries: string[] = [];
  for (const [action, type] of msi.customActions) {
    if (!(SECRET_ACTIONS as readonly string[]).includes(action)) continue;
    queries.push(
      `UPDATE \`CustomAction\` SET \`Type\` = ${Number(type) | HIDE_TARGET} ` +
        `WHERE \`Action\` = '${action}'`,
    );
  }
  const same = "WIX_SAME_VERSION_UPGRADE_DETECTED";
  const secure = msi.properties.find(([name]) => name === "SecureCustomProperties")?.[1];
  const names = [...(secure ? secure.split(";") : []), ...MSI_PROPERTIES, "AGENTDIR", same];
  const value = [...new Set(names)].join(";");
  queries.push(
    secure === undefined
      ? `INSERT INTO \`Property\` (\`Property\`, \`Value\`) VALUES ('SecureCustomProperties', '${value}')`
      : `UPDATE \`Property\` SET \`Value\` = '${value}' WHERE \`Property\` = 'SecureCustomProperties'`,
  );
  // "#%" makes the value REG_EXPAND_SZ (wixl writes REG_SZ), as an EventMessageFile must be.
  queries.push(
    `UPDATE \`Registry\` SET \`Value\` = '#%${EVENT_MESSAGE_FILE}' ` +
      "WHERE `Name` = 'EventMessageFile'",
  );
  // msidbUpgradeAttributesMigrateFeatures | VersionMinInclusive | VersionMaxInclusive.
  queries.push(
    "INSERT INTO `Upgrade` (`UpgradeCode`, `VersionMin`, `VersionMax`, `Attributes`, " +
      `\`ActionProperty\`) VALUES ('{${UPGRADE_CODE}}', '${msi.version}', '${msi.version}', ` +
      `${1 | 256 | 512}, '${same}')`,
  );
  return queries;
}

/** Options of {@link buildMsi}. */
export interface BuildOptions {
  exe: string;
  version: string;
  output: string;
}

/** Builds the MSI; returns its path. */
export async function buildMsi(options: BuildOptions): Promise<string> {
  await Deno.stat(options.exe).catch(() => {
    throw new Error(
      `No ${options.exe}: build it with deno task compile, or give the exe's path`,
    );
  });
  const work = await Deno.makeTempDir({ prefix: "usm-msi-" });
  try {
    const wxs = join(work, "winagentUSM.wxs");
    // wixl resolves File/@Source against the .wxs folder only.
    await Deno.symlink(resolve(options.exe), join(work, "winagentUSM.exe"));
    await Deno.writeTextFile(wxs, wixSource({ exe: "winagentUSM.exe", version: options.version }));
    await run("wixl", ["--arch", "x64", "-o", options.output, wxs]);
    const queries = afterWixl({
      version: productVersion(options.version),
      customActions: await msiTable(options.output, "CustomAction"),
      properties: await msiTable(options.output, "Property"),
    });
    for (const query of queries) await run("msibuild", [options.output, "-q", query]);
    return options.output;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

function parseCli(args: string[]): BuildOptions {
  let exe = join(root, "dist", "winagentUSM.exe");
  let version: string | undefined;
  let output: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--version") version = args[++i];
    else if (args[i] === "--output") output = args[++i];
    else if (args[i].startsWith("-")) throw new TypeError(`Unknown flag ${args[i]}`);
    else exe = args[i];
  }
  version ??= JSON.parse(Deno.readTextFileSync(join(root, "deno.json"))).version as string;
  output ??= join(root, "dist", `winagentUSM-${version}.msi`);
  return { exe, version, output };
}

if (import.meta.main) {
  try {
    const options = parseCli(Deno.args);
    await Deno.mkdir(join(options.output, ".."), { recursive: true });
    const t0 = performance.now();
    await buildMsi(options);
    const size = (await Deno.stat(options.output)).size;
    const properties = await msiTable(options.output, "Property");
    const productCode = properties.find(([name]) => name === "ProductCode")?.[1];
    console.log(
      `Built ${options.output} (${(size / 1048576).toFixed(1)} MiB, version ` +
        `${productVersion(options.version)}, exe ${basename(options.exe)}) in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s\n` +
        `ProductCode ${productCode} (uninstall: msiexec /x ${productCode} /qn), ` +
        `UpgradeCode {${UPGRADE_CODE}}`,
    );
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  }
}
