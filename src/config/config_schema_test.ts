import assert from "node:assert/strict";
import {
  CONFIG_KEYS,
  CONFIG_SCHEMA,
  CONFIG_SECTIONS,
  ConfigError,
  configProblems,
  defaultConfig,
  defaultConfigText,
  importedSettings,
  parseConfig,
} from "./config.ts";
import { IniDocument } from "./ini.ts";
import { DEFAULTS } from "../../tests/support/config_fixtures.ts";

/** The rows of docs/configuration.md's config.ini table: section, key, default and accepted-values cells. */
function readmeConfigRows(): string[][] {
  const readme = Deno.readTextFileSync(new URL("../../docs/configuration.md", import.meta.url));
  const start = readme.indexOf("\n## config.ini\n");
  assert.ok(start >= 0, "docs/configuration.md has a config.ini section");
  const rows: string[][] = [];
  for (const line of readme.slice(start).split(/\r?\n/).slice(2)) {
    if (line.startsWith("## ")) break;
    if (!line.startsWith("| `[")) continue;
    rows.push(line.slice(2, -2).split(" | "));
  }
  return rows;
}

Deno.test("the default file documents every key and parses to the defaults", () => {
  const text = defaultConfigText("C:\\ProgramData\\UserSessionMon", {
    timeZone: "Europe/Paris",
    eol: "\r\n",
  });
  assert.ok(!/[^\r]\n/.test(text), "every line ends in CRLF");
  const doc = IniDocument.parse(text, "/f");
  assert.equal(doc.toString(), text);
  for (const key of CONFIG_KEYS) {
    const section = key.endsWith("_mb") ? "Logging" : "API";
    assert.notEqual(doc.get(section, key), undefined, key);
  }
  const { config, warnings } = parseConfig(text, "/f", { installDir: "/elsewhere" });
  assert.deepEqual(warnings, []);
  assert.equal(config.timeZone, "Europe/Paris");
  assert.equal(config.installDir, "C:\\ProgramData\\UserSessionMon");
  assert.equal(config.apiKey, "");
  assert.equal(config.serverUrl, "");
  assert.equal(config.obtainPublicIp, false);
  assert.equal(config.healthCheckIntervalMs, 1_800_000);
  assert.equal(configProblems(config).length, 2);
});

Deno.test("defaultConfig is what an empty config.ini gives", () => {
  for (const text of ["", "[API]\n[Logging]\n"]) {
    assert.deepEqual(
      defaultConfig("/opt/usm", { timeZone: "UTC" }),
      parseConfig(text, "/x/config.ini", DEFAULTS).config,
    );
  }
  const machine = defaultConfig("/opt/usm");
  assert.equal(machine.timeZone, parseConfig("", "/x", { installDir: "/opt/usm" }).config.timeZone);
  assert.deepEqual(machine.publicIpUrls, ["https://ifconfig.me/ip", "https://ipv4.icanhazip.com"]);
});

Deno.test("the schema's views and the default file follow the table", () => {
  assert.deepEqual(CONFIG_KEYS, CONFIG_SCHEMA.map((entry) => entry.key));
  for (const entry of CONFIG_SCHEMA) assert.equal(CONFIG_SECTIONS[entry.key], entry.section);
  const doc = IniDocument.parse(defaultConfigText("/opt/usm", { timeZone: "UTC" }), "/f");
  assert.deepEqual(doc.sections(), ["API", "Logging"]);
  for (const section of doc.sections()) {
    assert.deepEqual(
      doc.entries(section).map((e) => e.key),
      CONFIG_SCHEMA.filter((entry) => entry.section === section).map((entry) => entry.key),
    );
  }
  const fields = new Set(CONFIG_SCHEMA.map((entry) => entry.field));
  assert.deepEqual([...fields].sort(), Object.keys(defaultConfig("/opt/usm")).sort());
  const flags = CONFIG_SCHEMA.flatMap((entry) => "flag" in entry ? [entry.flag] : []);
  assert.deepEqual(flags, [
    "api-key",
    "url",
    "debug",
    "timezone",
    "install-dir",
    "check-interval",
    "cert-sha256",
  ]);
});

Deno.test("the config.ini table of docs/configuration.md matches CONFIG_SCHEMA", async (t) => {
  const rows = readmeConfigRows();
  assert.deepEqual(
    rows.map(([section, key]) => `${section} ${key}`),
    CONFIG_SCHEMA.map((entry) => `\`[${entry.section}]\` \`${entry.key}\``),
    "docs/configuration.md lists every key, in file order, in its section",
  );
  for (const [i, entry] of CONFIG_SCHEMA.entries()) {
    await t.step(entry.key, () => {
      const [, , defaultCell, acceptedCell] = rows[i];
      if (typeof entry.default === "string") {
        // the default the table names is the one the parser applies
        const named = entry.default === "" ? "empty" : `\`${entry.default}\``;
        assert.ok(
          defaultCell === named || defaultCell.startsWith(`${named} `) ||
            defaultCell.startsWith(`${named}:`),
          `docs/configuration.md default of ${entry.key} is ${defaultCell}, the schema's is ${named}`,
        );
      }
      assert.equal(defaultCell, entry.doc.default);
      assert.equal(acceptedCell, entry.doc.accepted);
    });
  }
});

Deno.test("importedSettings keeps the known keys set in their own sections", () => {
  const text = [
    "[API]",
    "api_key = 47959c6d0123456789",
    "server_url = https://192.168.27.1:8000",
    "debug_logs =",
    "install_dir = D:\\USM",
    "colour = blue",
    "",
    "[Logging]",
    "event_log_rotation_size_mb = 7",
    "",
  ].join("\r\n");
  assert.deepEqual(importedSettings(text, "import.ini", { installDir: "C:\\USM" }), {
    api_key: "47959c6d0123456789",
    server_url: "https://192.168.27.1:8000",
    install_dir: "D:\\USM",
    event_log_rotation_size_mb: "7",
  });
});

Deno.test("importedSettings refuses a file with a bad value, naming file and line", () => {
  const text = "[API]\r\nserver_url = https://192.168.27.1:8000\r\ntimezone = Mars/Olympus\r\n";
  assert.throws(
    () => importedSettings(text, "C:\\pkg\\config.ini", { installDir: "C:\\USM" }),
    (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /timezone in C:\\pkg\\config\.ini line 3: "Mars\/Olympus"/);
      return true;
    },
  );
});

Deno.test("an unknown section is kept and reported as a warning, as docs/configuration.md says", () => {
  const text = "[API]\napi_key = k\n[Proxy]\nhost = x\n[api]\ntimezone = UTC\n";
  const { warnings } = parseConfig(text, "c.ini", { installDir: "/opt/usm" });
  assert.deepEqual(warnings, [
    "Unknown section [Proxy] in c.ini: ignored (the agent reads [API] and [Logging])",
    "Section [api] in c.ini is ignored: section names are case-sensitive, write [API]",
  ]);
});
