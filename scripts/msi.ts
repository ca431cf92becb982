/**
 * `deno task msi [winagentUSM.exe] [--version x.y.z] [--output file.msi]`: builds
 * `dist/winagentUSM-<version>.msi` (version from deno.json) around a given winagentUSM.exe
 * (default dist/winagentUSM.exe) with msitools' `wixl`, then marks the custom actions that carry
 * the API key "HideTarget" with msitools' `msibuild` (wixl has no attribute for that bit).
 *
 * What the package does (docs/administration.md, "Deploy to many PCs"):
 * - files: winagentUSM.exe into `%ProgramFiles%\UserSessionMon` (admin-only by inheritance); the
 *   agent's folder (`INSTALL_DIR`, default `%ProgramData%\UserSessionMon`) in
 *   `HKLM\SOFTWARE\UserSessionMon\InstallDir`, read back at upgrade and uninstall, and the
 *   ProductCode of the package that installed the agent last in `...\ProductCode`; the Event Log
 *   source `UserSessionMonService` (message file EventCreate.exe, see src/windows/eventlog/app_event_log.ts).
 * - install (also repair and the install half of an upgrade): one deferred custom action, as
 *   SYSTEM (no impersonation), runs `winagentUSM.exe --service install --install-dir <dir>
 *   [--config CONFIG] [--url SERVER_URL] [--cert-sha256 CERT_SHA256]`: the agent's own install
 *   makes the folder, gives it the protected DACL before any file is written in it, writes
 *   config.ini and creates and starts the service, which runs the exe in Program Files (one
 *   copy). A rollback action removes the service of a failed first install, and restarts the
 *   old service when an upgrade rolls back.
 * - the API key is on no command line: `API_KEY` becomes the value `ApiKey` of
 *   `HKLM\SOFTWARE\UserSessionMon\Setup`, a key locked to SYSTEM and Administrators
 *   (MsiLockPermissionsEx), which `--service install` moves into config.ini and deletes.
 * - configuration properties apply to a first install or an upgrade only: a repair (`msiexec
 *   /f`, which a standard user may start) ignores them, and none of them is in
 *   SecureCustomProperties.
 * - uninstall (not the removal half of an upgrade): `--service remove --config <dir>\config.ini`
 *   (`--purge` with `PURGE=1`), then an older install's copy of the exe in the agent's folder is
 *   deleted. The agent's remove exits 0 whenever the service is gone.
 * - major upgrade: stable UpgradeCode, a ProductCode derived from the version (the same for every
 *   build of one version); the service is stopped and the old product removed first
 *   (RemoveExistingProducts right after InstallInitialize), then the new `--service install`
 *   starts it again, keeping config.ini, event_log.csv and the logs. `HKLM\SOFTWARE\
 *   UserSessionMon\Version` holds the installed version (for detection rules).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { basename, join, resolve } from "node:path";
import { readVersionResource } from "./version_resource.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Stable across every version: it is what makes a newer MSI an upgrade of an older one. */
export const UPGRADE_CODE = "6F1B2A3C-5D4E-4F60-8A7B-9C0D1E2F3A4B";
const EXE_COMPONENT_GUID = "2B7E51C4-0E8F-4C1D-9A3B-6D5C4E3F2A10";
const REG_COMPONENT_GUID = "8C9D0E1F-2A3B-4C5D-8E7F-0A1B2C3D4E5F";
const KEY_COMPONENT_GUID = "5E0A7C3B-1D2F-4A6E-9B8C-7D6E5F4A3B2C";
/** The product's name (Programs and Features). */
export const PRODUCT_NAME = "User Session Monitor Agent";
/** Where the MSI remembers the agent's folder between install, upgrade and uninstall. */
export const REGISTRY_KEY = "SOFTWARE\\UserSessionMon";

/** The Event Log source the package registers (the same as src/windows/eventlog/app_event_log.ts). */
export const EVENT_SOURCE_KEY =
  "SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\UserSessionMonService";
/** Windows' own message file whose IDs 1..1000 read "%1". */
export const EVENT_MESSAGE_FILE = "%SystemRoot%\\System32\\EventCreate.exe";

/** The key the API key is handed over in (src/windows/mgr/setup_key.ts), and its value. */
export const SETUP_KEY = `${REGISTRY_KEY}\\Setup`;
export const SETUP_VALUE = "ApiKey";
/** SYSTEM and Administrators only, nothing inherited: the Setup key's descriptor. */
export const SETUP_KEY_SDDL = "D:P(A;;KA;;;SY)(A;;KA;;;BA)";

/** msidbCustomActionTypeHideTarget: the action's target is never written to a log. */
export const HIDE_TARGET = 0x2000;
/** Custom actions whose target is kept out of logs (the command lines of the agent). */
export const SECRET_ACTIONS = ["AgentInstall"] as const;
/** When the Setup key's value is written (wixl has no Component/Condition: afterWixl sets it). */
const KEY_CONDITION = "API_KEY AND NOT Installed";
/** msidbCustomActionTypeInScript (0x400) | msidbCustomActionTypeRollback (0x100). */
const ROLLBACK_IN_SCRIPT = 0x500;
/** msidbComponentAttributesTransitive: the condition is evaluated again at a reinstall. */
const TRANSITIVE = 0x40;

/** Set empty after InstallFinalize: the property that holds the API key. */
const CLEARED = ["ClearAPI_KEY"] as const;

/** The service the custom actions stop and start (src/windows/service_status.ts). */
const SERVICE = "UserSessionMonService";

/** The public properties the package reads (docs/administration.md, "MSI properties"). */
export const MSI_PROPERTIES = [
  "SERVER_URL",
  "API_KEY",
  "CERT_SHA256",
  "CONFIG",
  "INSTALL_DIR",
  "PURGE",
] as const;

/**
 * The ProductCode of a version: a name-based UUID (RFC 9562 version 5, SHA-1) of the version in
 * the UpgradeCode's namespace. Every build of one version has the same code (detection rules and
 * scripts may name it); another version has another.
 */
export function productCode(version: string): string {
  const namespace = Buffer.from(UPGRADE_CODE.replaceAll("-", ""), "hex");
  const hash = createHash("sha1").update(namespace).update(productVersion(version)).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex").toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

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

/** Conditions of the custom actions. */
const WHEN = {
  // Not the removal half of an upgrade: Windows sets UPGRADINGPRODUCTCODE there; Wine's
  // msiexec does not, and removes the older product after the newer one is installed, which
  // has by then written its own ProductCode as the owner of the agent.
  uninstalling:
    'REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE AND (NOT USM_OWNER OR USM_OWNER = ProductCode)',
  // A first install, the install half of an upgrade, or a repair (msiexec /f); not a second
  // `msiexec /i` of the installed package (a startup script may run one at every boot).
  installing: 'NOT REMOVE~="ALL" AND (NOT Installed OR REINSTALL)',
  firstInstall: 'NOT REMOVE~="ALL" AND NOT Installed AND NOT WIX_UPGRADE_DETECTED',
  upgrading: 'NOT REMOVE~="ALL" AND WIX_UPGRADE_DETECTED',
} as const;

/** The property setters: [action, property, value, condition]. */
function setters(): [string, string, string, string][] {
  // Configuration properties apply to a first install and an upgrade (Installed is not set in
  // the new product), never to a repair: a standard user may start one (msiexec /f).
  const configure = (property: string) => `${property} AND NOT Installed`;
  return [
    ["SetAgentDirFromProperty", "AGENTDIR", "[INSTALL_DIR]", configure("INSTALL_DIR")],
    ["SetAgentDirDefault", "AGENTDIR", "[CommonAppDataFolder]UserSessionMon", "NOT AGENTDIR"],
    ["SetArgConfig", "USM_ARG_CONFIG", ' --config "[CONFIG]"', configure("CONFIG")],
    ["SetArgUrl", "USM_ARG_URL", ' --url "[SERVER_URL]"', configure("SERVER_URL")],
    ["SetArgCert", "USM_ARG_CERT", " --cert-sha256 [CERT_SHA256]", configure("CERT_SHA256")],
    ["SetArgPurge", "USM_ARG_PURGE", " --purge", 'PURGE="1"'],
    ["SetCmdPath", "USM_CMD", "[System64Folder]cmd.exe", ""],
  ];
}

/**
 * Values CommandLineToArgvW would misread inside the agent's quoted arguments: a backslash
 * before the closing quote escapes it (`"C:\Agent\"` reads as `C:\Agent"`). Refused with an
 * error (a type 19 custom action) before anything is installed.
 */
const REFUSALS: [string, string, string][] = [
  [
    "RefuseInstallDir",
    'INSTALL_DIR >> "\\" AND NOT Installed',
    "INSTALL_DIR must not end with a backslash: give C:\\Path\\Folder, not C:\\Path\\Folder\\",
  ],
  [
    "RefuseConfig",
    'CONFIG >> "\\" AND NOT Installed',
    "CONFIG must name a config.ini file, not end with a backslash",
  ],
];

/** The custom actions that run the agent or cmd.exe: [id, source, command, execute, return]. */
function agentActions(): [string, string, string, string, string][] {
  const dir = "[AGENTDIR]";
  const stop = `/d /c net stop ${SERVICE}`;
  return [
    [
      "AgentInstall",
      'FileKey="AgentExe"',
      `--service install --install-dir "${dir}"[USM_ARG_CONFIG][USM_ARG_URL][USM_ARG_CERT]`,
      "deferred",
      "check",
    ],
    // A failed first install: the service goes again (the MSI takes its files back).
    [
      "AgentInstallRollback",
      'FileKey="AgentExe"',
      `--service remove --config "${dir}\\config.ini"`,
      "rollback",
      "ignore",
    ],
    // An upgrade: the service stops before the old product's exe is removed; should the
    // upgrade roll back, the old product's exe is restored and this starts the service again.
    [
      "AgentStartRollback",
      'Property="USM_CMD"',
      `/d /c net start ${SERVICE}`,
      "rollback",
      "ignore",
    ],
    ["AgentStop", 'Property="USM_CMD"', stop, "deferred", "ignore"],
    [
      "AgentRemove",
      'FileKey="AgentExe"',
      `--service remove --config "${dir}\\config.ini"[USM_ARG_PURGE]`,
      "deferred",
      "check",
    ],
    [
      "AgentDeleteExe",
      'Property="USM_CMD"',
      `/d /c if exist "${dir}\\winagentUSM.exe" del /f /q "${dir}\\winagentUSM.exe"`,
      "deferred",
      "ignore",
    ],
  ];
}

/** The InstallExecuteSequence rows of the custom actions: [action, sequence, condition]. */
function sequence(): [string, number, string][] {
  return [
    ...setters().map(([id, , , condition], i): [string, number, string] => [
      id,
      1011 + i,
      condition,
    ]),
    // Right after InstallInitialize (1500): the service stops, then RemoveExistingProducts
    // (1510, set by afterWixl) removes the old product.
    ["AgentStartRollback", 1501, WHEN.upgrading],
    ["AgentStop", 1502, WHEN.upgrading],
    ["AgentRemove", 1520, WHEN.uninstalling],
    ["AgentDeleteExe", 1521, WHEN.uninstalling],
    // After the files, the registry and the product registration (before InstallFinalize).
    ["AgentInstallRollback", 6499, WHEN.firstInstall],
    ["AgentInstall", 6500, WHEN.installing],
    // After InstallFinalize the deferred actions have run: drop the key from the session, so
    // the property dump at the end of a log has nothing to show even where MsiHiddenProperties
    // is not honoured (Wine's msiexec ignores it).
    ...CLEARED.map((id, i): [string, number, string] => [id, 6601 + i, "1"]),
  ];
}

function registryValue(key: string, name: string, type: string, value: string): string {
  return `            <RegistryValue Root="HKLM" Key="${xml(key)}" Name="${name}" Type="${type}"` +
    ` Value="${xml(value)}" />`;
}

/** The WiX source of the package (the subset of WiX that wixl reads). */
export function wixSource(options: WixOptions): string {
  const version = productVersion(options.version);
  const lines = [
    `<?xml version="1.0" encoding="utf-8"?>`,
    `<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">`,
    `  <Product Id="${productCode(version)}" Name="${PRODUCT_NAME}" Language="1033"`,
    `           Version="${version}" Manufacturer="UserSessionMon" UpgradeCode="${UPGRADE_CODE}">`,
    `    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"`,
    `             Description="User Session Monitor Agent ${version}"`,
    `             Comments="Records Windows session events and sends them to the server" />`,
    `    <MajorUpgrade DowngradeErrorMessage="A newer version of the User Session Monitor Agent is already installed." />`,
    `    <Media Id="1" Cabinet="agent.cab" EmbedCab="yes" />`,
    `    <Property Id="MsiHiddenProperties" Value="API_KEY" />`,
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
    registryValue(REGISTRY_KEY, "ProductCode", "string", "[ProductCode]"),
    registryValue(REGISTRY_KEY, "Version", "string", "[ProductVersion]"),
    // The agent's Event Log source (src/windows/eventlog/app_event_log.ts), removed with the product.
    registryValue(EVENT_SOURCE_KEY, "EventMessageFile", "string", EVENT_MESSAGE_FILE),
    registryValue(EVENT_SOURCE_KEY, "TypesSupported", "integer", "7"),
    registryValue(EVENT_SOURCE_KEY, "CustomSource", "integer", "1"),
    `          </Component>`,
    // The API key's hand-over: written only when API_KEY is given to a first install or an
    // upgrade (transitive: a repair evaluates the condition again and removes the value).
    `          <Component Id="ApiKeyValue" Guid="${KEY_COMPONENT_GUID}" Win64="yes">`,
    `            <RegistryValue Id="SetupApiKey" Root="HKLM" Key="${SETUP_KEY}" Name="${SETUP_VALUE}"`,
    `                           Type="string" Value="[API_KEY]" KeyPath="yes" />`,
    `          </Component>`,
    `        </Directory>`,
    `      </Directory>`,
    `    </Directory>`,
    `    <Feature Id="Agent" Title="User Session Monitor Agent" Level="1">`,
    `      <ComponentRef Id="AgentExe" />`,
    `      <ComponentRef Id="AgentDirValue" />`,
    `      <ComponentRef Id="ApiKeyValue" />`,
    `    </Feature>`,
    ...setters().map(([id, property, value]) =>
      `    <CustomAction Id="${id}" Property="${property}" Value="${xml(value)}" />`
    ),
    ...CLEARED.map((id) =>
      `    <CustomAction Id="${id}" Property="${id.replace("Clear", "")}" Value="" />`
    ),
    ...agentActions().map(([id, source, command, execute, result]) =>
      `    <CustomAction Id="${id}" ${source} ExeCommand="${xml(command)}"\n` +
      `                  Execute="${execute}" Impersonate="no" Return="${result}" />`
    ),
    `    <InstallExecuteSequence>`,
    // Explicit numbers: wixl places After= actions at the end of the sequence.
    ...sequence().map(([id, number, condition]) =>
      `      <Custom Action="${id}" Sequence="${number}">${xml(condition)}</Custom>`
    ),
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
  /** Rows of the Component table: Component, ComponentId, Directory_, Attributes, ... */
  components: string[][];
  /** The exe's file version (four numbers), from its version resource. */
  fileVersion: string;
}

/** The properties a managed install may pass to the server side: none that configures. */
export const SECURE_PROPERTIES = ["PURGE"] as const;
/** The configuration properties: never in SecureCustomProperties, ignored by a repair. */
export const CONFIG_PROPERTIES = [
  "SERVER_URL",
  "API_KEY",
  "CERT_SHA256",
  "CONFIG",
  "INSTALL_DIR",
  "AGENTDIR",
] as const;

const sql = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * The SQL that adds what wixl cannot express: HideTarget on the agent's command lines; a
 * SecureCustomProperties without any configuration property; the Setup key's descriptor
 * (MsiLockPermissionsEx) and its component made transitive; File.Version from the exe's version
 * resource (wixl leaves it empty, and an unversioned file is replaced by hash and date rules);
 * RemoveExistingProducts right after InstallInitialize, where the README says the old product
 * is removed.
 */
export function afterWixl(msi: WixlOutput): string[] {
  const queries: string[] = [];
  for (const [action, type] of msi.customActions) {
    let bits = 0;
    if ((SECRET_ACTIONS as readonly string[]).includes(action)) bits |= HIDE_TARGET;
    // wixl ignores Execute="rollback": msidbCustomActionTypeInScript | Rollback.
    if (action.endsWith("Rollback")) bits |= ROLLBACK_IN_SCRIPT;
    if (bits === 0) continue;
    queries.push(
      `UPDATE \`CustomAction\` SET \`Type\` = ${Number(type) | bits} ` +
        `WHERE \`Action\` = '${action}'`,
    );
  }
  const secure = msi.properties.find(([name]) => name === "SecureCustomProperties")?.[1];
  const names = [...(secure ? secure.split(";") : []), ...SECURE_PROPERTIES]
    .filter((name) => !(CONFIG_PROPERTIES as readonly string[]).includes(name));
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
  queries.push(
    `UPDATE \`File\` SET \`Version\` = ${sql(msi.fileVersion)} WHERE \`File\` = 'AgentExe'`,
  );
  queries.push(
    "UPDATE `InstallExecuteSequence` SET `Sequence` = 1510 " +
      "WHERE `Action` = 'RemoveExistingProducts'",
  );
  REFUSALS.forEach(([id, condition, text], i) => {
    queries.push(
      "INSERT INTO `CustomAction` (`Action`, `Type`, `Source`, `Target`) " +
        `VALUES ('${id}', 19, '', ${sql(text)})`,
      "INSERT INTO `InstallExecuteSequence` (`Action`, `Condition`, `Sequence`) " +
        `VALUES ('${id}', ${sql(condition)}, ${1001 + i})`,
    );
  });
  const keyComponent = msi.components.find(([id]) => id === "ApiKeyValue");
  if (!keyComponent) throw new Error("wixl made no ApiKeyValue component");
  queries.push(
    `UPDATE \`Component\` SET \`Attributes\` = ${Number(keyComponent[3]) | TRANSITIVE}, ` +
      `\`Condition\` = ${sql(KEY_CONDITION)} WHERE \`Component\` = 'ApiKeyValue'`,
  );
  queries.push(
    "CREATE TABLE `MsiLockPermissionsEx` (`MsiLockPermissionsEx` CHAR(72) NOT NULL, " +
      "`LockObject` CHAR(72) NOT NULL, `Table` CHAR(32) NOT NULL, `SDDLText` CHAR(0) NOT NULL, " +
      "`Condition` CHAR(255) PRIMARY KEY `MsiLockPermissionsEx`)",
  );
  queries.push(
    "INSERT INTO `MsiLockPermissionsEx` (`MsiLockPermissionsEx`, `LockObject`, `Table`, " +
      `\`SDDLText\`) VALUES ('SetupKeyLock', 'SetupApiKey', 'Registry', ${sql(SETUP_KEY_SDDL)})`,
  );
  // WriteRegistryValues' log line is "Key: [1], Name: [2], Value: [3]" by default: without [3],
  // no log shows the value written (the API key's, in the Setup key).
  queries.push(
    "CREATE TABLE `ActionText` (`Action` CHAR(72) NOT NULL, `Description` CHAR(0), " +
      "`Template` CHAR(0) PRIMARY KEY `Action`)",
    "INSERT INTO `ActionText` (`Action`, `Description`, `Template`) VALUES " +
      "('WriteRegistryValues', 'Writing system registry values', 'Key: [1], Name: [2]')",
  );
  return queries;
}

/** The exe's FileVersion (a.b.c.d) from its version resource, else the product version's. */
export function exeFileVersion(pe: Uint8Array, version: string): string {
  let found: string | undefined;
  try {
    found = readVersionResource(pe)?.fileVersion;
  } catch {
    found = undefined; // not a PE file with resources (a test's stand-in)
  }
  return found ?? `${productVersion(version)}.0`;
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
      components: await msiTable(options.output, "Component"),
      fileVersion: exeFileVersion(await Deno.readFile(options.exe), options.version),
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
        `ProductCode ${productCode} (the same for every build of this version; uninstall: ` +
        `msiexec /x ${productCode} /qn), ` +
        `UpgradeCode {${UPGRADE_CODE}}`,
    );
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  }
}
