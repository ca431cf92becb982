import assert from "node:assert/strict";
import {
  type Config,
  CONFIG_KEYS,
  CONFIG_SCHEMA,
  CONFIG_SECTIONS,
  ConfigError,
  type ConfigKey,
  configProblems,
  defaultConfig,
  defaultConfigText,
  describeInterval,
  importedSettings,
  loadConfig,
  parseConfig,
  parseInterval,
  updateConfigFile,
  validateSetting,
} from "./config.ts";
import { maskSecret } from "../log/redact.ts";
import { IniDocument } from "./ini.ts";

const KEY = "47959c6d5d8db64eb0ec3ad824ccbe82618632e2a58823d84aba92078da693fa";
/**
 * The config.ini the server's "Download Agent" page generates, byte for byte
 * (docs/server-contract.md, "The package the server hands out").
 */
const SERVER_FILE = Deno.readTextFileSync(
  new URL("../../testdata/server_config.ini", import.meta.url),
);
const DEFAULTS = { installDir: "/opt/usm", timeZone: "UTC" };
const MIB = 1024 * 1024;

Deno.test("config reads the server-generated file", () => {
  const { config, warnings } = parseConfig(SERVER_FILE, "/x/config.ini", DEFAULTS);
  assert.deepEqual(
    config,
    {
      apiKey: KEY,
      serverUrl: "https://192.168.27.1:8000",
      debugLogs: false,
      timeZone: "Europe/London",
      installDir: "C:\\ProgramData\\UserSessionMon",
      healthCheckIntervalMs: 30 * 60_000,
      serverRateLimit: { limit: 60, windowMs: 60_000 },
      healthCheckPath: "/api/health",
      obtainPublicIp: true,
      publicIpUrls: ["https://ifconfig.me/ip", "https://ipv4.icanhazip.com"],
      tlsCaFile: "",
      tlsCaStore: "mozilla",
      tlsServerSha256: "",
      tlsInsecure: false,
      sessionLogRotationBytes: 5 * MIB,
      errorLogRotationBytes: 5 * MIB,
      eventLogRotationBytes: 5 * MIB,
      logonAtStart: true,
      logoffAtShutdown: true,
      logoffAfterUncleanStop: true,
      disconnectEvents: "lock",
    } satisfies Config,
  );
  assert.deepEqual(warnings, []);
  assert.deepEqual(configProblems(config), []);
});

Deno.test("config applies defaults for missing and empty keys", () => {
  const expected: Config = {
    apiKey: "",
    serverUrl: "",
    debugLogs: false,
    timeZone: "UTC",
    installDir: "/opt/usm",
    healthCheckIntervalMs: 30 * 60_000,
    serverRateLimit: { limit: 60, windowMs: 60_000 },
    healthCheckPath: "/api/health",
    obtainPublicIp: false,
    publicIpUrls: ["https://ifconfig.me/ip", "https://ipv4.icanhazip.com"],
    tlsCaFile: "",
    tlsCaStore: "mozilla",
    tlsServerSha256: "",
    tlsInsecure: false,
    sessionLogRotationBytes: 5 * MIB,
    errorLogRotationBytes: 5 * MIB,
    eventLogRotationBytes: 5 * MIB,
    logonAtStart: true,
    logoffAtShutdown: true,
    logoffAfterUncleanStop: true,
    disconnectEvents: "lock",
  };
  for (const text of ["", "[API]\n", "[API]\napi_key =\nserver_url=\ntimezone =\n[Logging]\n"]) {
    assert.deepEqual(parseConfig(text, "/x/config.ini", DEFAULTS), {
      config: expected,
      warnings: [],
    });
  }
  const { config } = parseConfig("", "/x/config.ini", { installDir: "/opt/usm" });
  assert.doesNotThrow(() => Temporal.Now.instant().toZonedDateTimeISO(config.timeZone));
  assert.deepEqual(configProblems(expected), [
    "api_key is not set: set it with --api-key <key> or in config.ini",
    "server_url is not set: set it with --url https://host:port or in config.ini",
  ]);
});

Deno.test("config accepts hand-edited forms", () => {
  const text =
    `\uFEFF; mine\r\n[API]\r\nAPI_KEY: "${KEY}"\r\nServer_Url="https://h.example:8443/usm/"\r\n` +
    `debug_logs = YES\r\nhealth_check_interval = 90s\r\ntls_server_sha256 = ${
      "AB:".repeat(31)
    }AB\r\n[Logging]\r\nevent_log_rotation_size_mb = 0\r\nerror_log_rotation_size_mb = 0.5\r\n`;
  const { config } = parseConfig(text, "/x/config.ini", DEFAULTS);
  assert.equal(config.apiKey, KEY);
  assert.equal(config.serverUrl, "https://h.example:8443/usm");
  assert.equal(config.debugLogs, true);
  assert.equal(config.healthCheckIntervalMs, 90_000);
  assert.equal(config.tlsServerSha256, "ab".repeat(32));
  assert.equal(config.eventLogRotationBytes, 0);
  assert.equal(config.errorLogRotationBytes, MIB / 2);
});

Deno.test("validateSetting accepts and normalizes", async (t) => {
  const cases: [ConfigKey, string, string][] = [
    ["api_key", KEY, KEY],
    ["api_key", ` "${KEY}" `, KEY],
    ["server_url", "https://192.168.27.1:8000", "https://192.168.27.1:8000"],
    ["server_url", "https://192.168.27.1:8000/", "https://192.168.27.1:8000"],
    ["server_url", "http://Host.Example/prefix/", "http://host.example/prefix"],
    ["server_url", "https://h:443", "https://h"],
    ["debug_logs", "TRUE", "true"],
    ["debug_logs", "on", "true"],
    ["debug_logs", "1", "true"],
    ["debug_logs", "yes", "true"],
    ["obtain_public_ip", "No", "false"],
    ["obtain_public_ip", "off", "false"],
    ["tls_insecure", "0", "false"],
    ["tls_insecure", "false", "false"],
    ["timezone", "Europe/London", "Europe/London"],
    ["timezone", "europe/london", "Europe/London"],
    ["timezone", "UTC", "UTC"],
    ["install_dir", "C:\\ProgramData\\UserSessionMon", "C:\\ProgramData\\UserSessionMon"],
    ["health_check_interval", "30", "30"],
    ["health_check_interval", "0", "0"],
    ["health_check_interval", "090", "90"],
    ["health_check_interval", "90S", "90s"],
    ["health_check_interval", "30m", "30m"],
    ["health_check_interval", "1h", "1h"],
    ["health_check_path", "/api/health", "/api/health"],
    ["public_ip_http_urls", "https://a/ip, http://b/x?y=1,", "https://a/ip,http://b/x?y=1"],
    ["tls_ca_file", "C:\\certs\\ca.pem", "C:\\certs\\ca.pem"],
    ["tls_server_sha256", "AB".repeat(32), "ab".repeat(32)],
    ["tls_server_sha256", `${"0f:".repeat(31)}0F`, "0f".repeat(32)],
    ["session_log_rotation_size_mb", "5", "5"],
    ["error_log_rotation_size_mb", "0", "0"],
    ["event_log_rotation_size_mb", "2.5", "2.5"],
  ];
  for (const [key, value, normalized] of cases) {
    await t.step(`${key} = ${value.replace(KEY, "<key>")}`, () => {
      assert.equal(validateSetting(key, value), normalized);
    });
  }
});

Deno.test("validateSetting rejects with the key, the value and the accepted form", async (t) => {
  const cases: [ConfigKey, string, typeof TypeError | typeof RangeError, RegExp][] = [
    ["api_key", "", TypeError, /^Invalid value for api_key: the API key is empty/],
    ["api_key", "abcd efgh ijkl mnop", TypeError, /"abcd…mnop" contains whitespace/],
    ["api_key", "abc\u0001", TypeError, /"\*{8}" contains a control character/],
    [
      "server_url",
      "192.168.27.1:8000",
      TypeError,
      /"192\.168\.27\.1:8000" has no http:\/\/ or https:\/\/: write http\(s\):\/\/host/,
    ],
    ["server_url", "not a url", TypeError, /"not a url" is not a URL: write http\(s\):\/\/host/],
    ["server_url", "ftp://h", TypeError, /is not an http or https URL/],
    ["server_url", "localhost:8000", TypeError, /has no http:\/\/ or https:\/\//],
    ["server_url", "https://", TypeError, /is not a URL/],
    ["server_url", "https://u:secret@h", TypeError, /contains a user name or password/],
    ["server_url", "https://h/?x=1", TypeError, /has a query or fragment/],
    ["server_url", "https://h/#top", TypeError, /has a query or fragment/],
    [
      "debug_logs",
      "maybe",
      TypeError,
      /"maybe" is not true or false \(also yes\/no, on\/off, 1\/0\)/,
    ],
    ["obtain_public_ip", "2", TypeError, /is not true or false/],
    ["tls_insecure", "", TypeError, /"" is not true or false/],
    [
      "timezone",
      "Mars/Olympus",
      RangeError,
      /"Mars\/Olympus" is not a known time zone: use an IANA/,
    ],
    ["timezone", "+01:00", RangeError, /is an offset, not a time zone/],
    [
      "health_check_interval",
      "abc",
      TypeError,
      /^Invalid value for health_check_interval: "abc" is not a number of minutes \(use 30, 90s, 30m or 1h; 0 disables\)$/,
    ],
    ["health_check_interval", "-5", RangeError, /"-5" is negative/],
    ["health_check_interval", "1.5", TypeError, /is not a number of minutes/],
    ["health_check_interval", "5s", RangeError, /shorter than 10 seconds/],
    ["health_check_interval", "1000h", RangeError, /longer than 24 days/],
    ["health_check_interval", "30 minutes", TypeError, /is not a number of minutes/],
    [
      "health_check_path",
      "api/health",
      TypeError,
      /"api\/health" is not a path: write one that starts with "\/"/,
    ],
    ["health_check_path", "/api health", TypeError, /is not a path/],
    ["public_ip_http_urls", ",", TypeError, /has no URL: write comma-separated http\(s\) URLs/],
    [
      "public_ip_http_urls",
      "https://a/ip,ifconfig.me",
      TypeError,
      /"ifconfig\.me" has no http:\/\/ or https:\/\//,
    ],
    ["tls_ca_file", "a\nb", TypeError, /contains a control character/],
    ["install_dir", "C:\\x\u0000", TypeError, /contains a control character/],
    [
      "tls_server_sha256",
      "ab".repeat(31),
      TypeError,
      /is not a SHA-256 fingerprint: write 64 hex digits/,
    ],
    ["tls_server_sha256", "zz".repeat(32), TypeError, /is not a SHA-256 fingerprint/],
    ["session_log_rotation_size_mb", "-1", RangeError, /"-1" is negative: use a size in MB/],
    [
      "error_log_rotation_size_mb",
      "5MB",
      TypeError,
      /"5MB" is not a size in MB \(e\.g\. 5 or 0\.5; 0 disables the log\)/,
    ],
    ["event_log_rotation_size_mb", "big", TypeError, /0 = never rotate/],
    ["event_log_rotation_size_mb", "99999999", RangeError, /is more than 1048576 MB/],
    ["nope" as ConfigKey, "1", TypeError, /"nope" is not a config key: use one of api_key/],
  ];
  for (const [key, value, kind, message] of cases) {
    await t.step(`${key} = ${JSON.stringify(value)}`, () => {
      assert.throws(() => validateSetting(key, value), (e: unknown) => {
        assert.ok(e instanceof kind, `${e}`);
        assert.match((e as Error).message, message);
        assert.ok((e as Error).message.startsWith(`Invalid value for ${key}: `));
        return true;
      });
    });
  }
});

Deno.test("parseConfig errors name file, line, key and value", () => {
  const text = SERVER_FILE.replace("health_check_interval = 30", "health_check_interval = abc");
  assert.throws(() => parseConfig(text, "/x/config.ini", DEFAULTS), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.name, "ConfigError");
    assert.equal(
      e.message,
      'Invalid value for health_check_interval in /x/config.ini line 7: "abc" is not a number of minutes (use 30, 90s, 30m or 1h; 0 disables)',
    );
    assert.equal(e.path, "/x/config.ini");
    assert.equal(e.line, 7);
    assert.equal(e.key, "health_check_interval");
    assert.ok(e.cause instanceof TypeError);
    return true;
  });
  assert.throws(
    () => parseConfig("[API]\ntimezone = Nowhere/Land\n", "/x/config.ini", DEFAULTS),
    (e: unknown) => e instanceof ConfigError && e.cause instanceof RangeError && e.line === 2,
  );
  assert.throws(
    () => parseConfig("[API]\n\napi 123\n", "/x/config.ini", DEFAULTS),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.cause instanceof SyntaxError);
      assert.equal(e.line, 3);
      assert.equal(e.key, undefined);
      assert.equal(
        e.message,
        'Invalid line 3 in /x/config.ini: "api 123" is not "key = value", a [section] or a ; comment',
      );
      return true;
    },
  );
});

Deno.test("parseConfig warns about unknown, misplaced and doubtful settings", () => {
  const text = "[API]\nhelth_check_interval = 5\nhealth_check_interval = 3600\n" +
    "server_url = http://h:8000\nsession_log_rotation_size_mb = 9\n[api]\ndebug_logs = true\n" +
    "[Other]\nanything = at all\n";
  const { config, warnings } = parseConfig(text, "/x/config.ini", DEFAULTS);
  assert.deepEqual(warnings, [
    "Unknown key helth_check_interval in [API] of /x/config.ini line 2: ignored",
    "Key session_log_rotation_size_mb in [API] of /x/config.ini line 5 is ignored: it belongs in [Logging]",
    "Section [api] in /x/config.ini is ignored: section names are case-sensitive, write [API]",
    "Unknown section [Other] in /x/config.ini: ignored (the agent reads [API] and [Logging])",
    "In /x/config.ini: health_check_interval = 3600 is read as 3600 minutes (every 60 hours): write 3600s if seconds were meant",
  ]);
  assert.ok(
    warnings.every((warning) => !warning.includes("http")),
    "an http:// server_url is warned about where it is used, not a second time here",
  );
  assert.equal(config.healthCheckIntervalMs, 3600 * 60_000);
  assert.equal(config.debugLogs, false);
  assert.equal(config.sessionLogRotationBytes, 5 * MIB);
});

Deno.test("intervals are minutes unless a unit says otherwise", () => {
  assert.deepEqual(parseInterval("30"), { ms: 1_800_000 });
  assert.deepEqual(parseInterval("0"), { ms: 0 });
  assert.deepEqual(parseInterval("0s"), { ms: 0 });
  assert.deepEqual(parseInterval("1440"), { ms: 86_400_000 });
  assert.match(parseInterval("1441").warning ?? "", /write 1441s if seconds were meant/);
  assert.equal(parseInterval("3600s").warning, undefined);
  assert.equal(describeInterval(0), "disabled (health_check_interval = 0)");
  assert.equal(describeInterval(1_800_000), "every 30 minutes");
  assert.equal(describeInterval(60_000), "every 1 minute");
  assert.equal(describeInterval(90_000), "every 90 seconds");
  assert.equal(describeInterval(7_200_000), "every 2 hours");
  assert.equal(describeInterval(1500), "every 1500 ms");
});

Deno.test("maskSecret shows at most the first and last four characters", () => {
  assert.equal(maskSecret(""), "(not set)");
  assert.equal(maskSecret("abc"), "********");
  assert.equal(maskSecret("abcdefghijkl"), "********");
  assert.equal(maskSecret(KEY), "4795…93fa");
});

Deno.test("the API key never appears in an error message or warning", async (t) => {
  const secret = "ZqX7SecretApiKeyValue0987654321Wv";
  const inner = secret.slice(4, -4);
  const texts: [string, string][] = [
    ["whitespace in the key", `[API]\napi_key = ${secret} extra\n`],
    ["control character in the key", `[API]\napi_key = ${secret}\u0007\n`],
    ["missing separator", `[API]\napi_key ${secret}\n`],
    ["key before section", `api_key = ${secret}\n[API]\n`],
    ["duplicate key", `[API]\napi_key = ${secret}\nApi_Key = ${secret}\n`],
    ["bare key pasted", `[API]\n${secret}\n`],
    ["misspelled key name", `[API]\napikey ${secret}\n`],
    ["key without separator but with a colon", `[API]\napi_key ${secret}:x\n`],
    ["other bad value", `[API]\napi_key = ${secret}\nserver_url = ftp://h\n`],
    ["credentials in url", `[API]\napi_key = ${secret}\nserver_url = https://u:${secret}@h\n`],
    ["warnings", `[API]\napi_key = ${secret}\nserver_url = http://h\nx = ${secret}\n`],
  ];
  for (const [name, text] of texts) {
    await t.step(name, () => {
      const messages: string[] = [];
      try {
        messages.push(...parseConfig(text, "/x/config.ini", DEFAULTS).warnings);
      } catch (e) {
        for (let c: unknown = e; c instanceof Error; c = c.cause) messages.push(c.message);
      }
      assert.ok(messages.length > 0);
      for (const m of messages) {
        if (name === "warnings" && m.startsWith("Unknown key x")) continue;
        assert.ok(!m.includes(inner), m);
      }
    });
  }
  for (const value of [`${secret} x`, `${secret}\u0000`, `"${secret}\u007f"`]) {
    await t.step(`validateSetting ${JSON.stringify(value.replace(secret, "<key>"))}`, () => {
      assert.throws(() => validateSetting("api_key", value), (e: unknown) => {
        for (let c: unknown = e; c instanceof Error; c = c.cause) {
          assert.ok(!c.message.includes(inner), c.message);
        }
        return true;
      });
    });
  }
  await t.step("server_url credentials", () => {
    assert.throws(
      () => validateSetting("server_url", `https://user:${secret}@h`),
      (e: unknown) => !(e as Error).message.includes(inner),
    );
  });
  await t.step("updateConfigFile with a bad key", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await assert.rejects(
        updateConfigFile(`${dir}/config.ini`, { api_key: `${secret} x` }, DEFAULTS),
        (e: unknown) => !(e as Error).message.includes(inner),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

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

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("loadConfig creates the default file only when asked", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/sub/config.ini`;
    await assert.rejects(loadConfig(path, DEFAULTS), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /^Config file not found: .*config\.ini: /);
      return true;
    });
    const first = await loadConfig(path, { ...DEFAULTS, create: true });
    assert.equal(first.created, true);
    assert.equal(first.config.installDir, "/opt/usm");
    assert.equal(first.config.timeZone, "UTC");
    assert.deepEqual(await names(`${dir}/sub`), ["config.ini"]);
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const second = await loadConfig(path, { ...DEFAULTS, create: true });
    assert.equal(second.created, false);
    assert.deepEqual(second.config, first.config);
  });
});

Deno.test("loadConfig rejects UTF-16 and non-UTF-8 files", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/config.ini`;
    await Deno.writeFile(path, new Uint8Array([0xff, 0xfe, 0x5b, 0x00]));
    await assert.rejects(loadConfig(path, DEFAULTS), /it is UTF-16: save it as UTF-8/);
    await Deno.writeFile(path, new Uint8Array([0x5b, 0xc3, 0x28, 0x5d]));
    await assert.rejects(loadConfig(path, DEFAULTS), /it is not UTF-8: save it as UTF-8/);
  });
});

Deno.test("updateConfigFile changes only the given lines, atomically", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/config.ini`;
    const original = "\uFEFF" + SERVER_FILE.replaceAll("\n", "\r\n").replace(
      "[Logging]",
      "; keep me\r\nunknown_key = 1\r\n\r\n[Logging]",
    );
    await Deno.writeTextFile(path, original);
    await updateConfigFile(path, {
      server_url: "https://10.1.1.1:8443/",
      health_check_interval: "90S",
      tls_insecure: "yes",
    }, DEFAULTS);
    const expected = original.replace(
      "server_url = https://192.168.27.1:8000",
      "server_url = https://10.1.1.1:8443",
    ).replace("health_check_interval = 30", "health_check_interval = 90s").replace(
      "unknown_key = 1\r\n",
      "unknown_key = 1\r\ntls_insecure = true\r\n",
    );
    assert.equal(await Deno.readTextFile(path), expected);
    assert.deepEqual(await names(dir), ["config.ini"]);
    const { config } = await loadConfig(path, DEFAULTS);
    assert.equal(config.healthCheckIntervalMs, 90_000);
    assert.equal(config.tlsInsecure, true);
  });
});

Deno.test("the secureFile hook restricts the temp file before it replaces config.ini", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/config.ini`;
    const secured: string[] = [];
    const secureFile = async (p: string) => {
      assert.ok((await Deno.stat(p)).isFile);
      secured.push(p);
    };
    await loadConfig(path, { ...DEFAULTS, create: true, secureFile });
    await updateConfigFile(path, { debug_logs: "true" }, { ...DEFAULTS, secureFile });
    await updateConfigFile(path, { debug_logs: "true" }, { ...DEFAULTS, secureFile });
    assert.equal(secured.length, 2, "an unchanged file is not rewritten");
    for (const p of secured) assert.match(p, /[\/\\]\.config\.ini\.[0-9a-f-]{36}\.tmp$/);
    assert.deepEqual(await names(dir), ["config.ini"]);
  });
});

Deno.test("a failed write leaves config.ini untouched and no temp file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/config.ini`;
    await Deno.writeTextFile(path, SERVER_FILE);
    const secureFile = (p: string) => Promise.reject(new Error(`access denied: ${p}`));
    await assert.rejects(
      updateConfigFile(path, { debug_logs: "true" }, { ...DEFAULTS, secureFile }),
      (e: unknown) =>
        e instanceof ConfigError && /^Cannot write config file .*: access denied/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(path), SERVER_FILE);
    assert.deepEqual(await names(dir), ["config.ini"]);
  });
});

Deno.test("updateConfigFile writes nothing when one value is bad", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/config.ini`;
    await Deno.writeTextFile(path, SERVER_FILE);
    const before = await Deno.readFile(path);
    const mtime = (await Deno.stat(path)).mtime;
    await assert.rejects(
      updateConfigFile(
        path,
        { server_url: "https://ok:1", health_check_interval: "abc" },
        DEFAULTS,
      ),
      TypeError,
    );
    assert.deepEqual(await Deno.readFile(path), before);
    assert.deepEqual((await Deno.stat(path)).mtime, mtime);
    assert.deepEqual(await names(dir), ["config.ini"]);
  });
});

Deno.test("updateConfigFile leaves an invalid file untouched", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/config.ini`;
    const broken = "[API]\nserver_url https://h\n";
    assert.throws(() => parseConfig(broken, path, DEFAULTS), (e: unknown) => {
      assert.ok(e instanceof ConfigError && e.cause instanceof SyntaxError);
      assert.equal(
        e.message,
        `Invalid line 2 in ${path}: "server_url https://h" is not "key = value": write server_url = <value>`,
      );
      return true;
    });
    await Deno.writeTextFile(path, broken);
    await assert.rejects(
      updateConfigFile(path, { server_url: "https://ok:1" }, DEFAULTS),
      (e: unknown) => e instanceof ConfigError && e.line === 2,
    );
    assert.equal(await Deno.readTextFile(path), broken);
    assert.deepEqual(await names(dir), ["config.ini"]);
  });
});

Deno.test("updateConfigFile creates a missing file from the default text", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/config.ini`;
    await updateConfigFile(path, { api_key: KEY, server_url: "https://h:8000" }, DEFAULTS);
    const { config } = await loadConfig(path, DEFAULTS);
    assert.equal(config.apiKey, KEY);
    assert.equal(config.serverUrl, "https://h:8000");
    assert.deepEqual(configProblems(config), []);
    const text = await Deno.readTextFile(path);
    assert.ok(text.startsWith("; User Session Monitor Agent configuration."));
    assert.deepEqual(await names(dir), ["config.ini"]);
  });
});

Deno.test("updateConfigFile reports a missing folder and leaves nothing behind", async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      updateConfigFile(`${dir}/missing/config.ini`, { debug_logs: "true" }, DEFAULTS),
      (e: unknown) =>
        e instanceof ConfigError && /^Cannot write config file .*missing/.test(e.message) &&
        e.cause instanceof Deno.errors.NotFound,
    );
    assert.deepEqual(await names(dir), []);
  });
});

Deno.test("updateConfigFile reports a folder it cannot write to", {
  ignore: Deno.build.os === "windows" || Deno.uid() === 0,
}, async () => {
  await withDir(async (dir) => {
    const path = `${dir}/config.ini`;
    await Deno.writeTextFile(path, SERVER_FILE);
    await Deno.chmod(dir, 0o500);
    try {
      await assert.rejects(
        updateConfigFile(path, { debug_logs: "true" }, DEFAULTS),
        (e: unknown) => e instanceof ConfigError && /^Cannot write config file /.test(e.message),
      );
    } finally {
      await Deno.chmod(dir, 0o700);
    }
    assert.equal(await Deno.readTextFile(path), SERVER_FILE);
  });
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
