import assert from "node:assert/strict";
import {
  type Config,
  ConfigError,
  configProblems,
  describeInterval,
  parseConfig,
  parseInterval,
} from "./config.ts";
import { maskSecret } from "../log/redact.ts";
import { DEFAULTS, KEY, MIB, SERVER_FILE } from "../../tests/support/config_fixtures.ts";

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
