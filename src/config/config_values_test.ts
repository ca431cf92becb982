import assert from "node:assert/strict";
import { type ConfigKey, parseConfig, updateConfigFile, validateSetting } from "./config.ts";
import { DEFAULTS, KEY } from "../../tests/support/config_fixtures.ts";

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
