import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigSource, describeSettings, describeTls, fallbackConfig } from "./source.ts";

const KEY = "47959c6d0123456789abcdef0123456789abcdefdeadbeef";

Deno.test("config source creates config.ini, then tells a changed file from an unchanged one", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "config.ini");
  const lines: string[] = [];
  const redacted: string[] = [];
  const source = new ConfigSource(path, {
    installDir: dir,
    log: (level, message) => lines.push(`${level}: ${message}`),
    redact: (secret) => redacted.push(secret),
  });
  try {
    assert.equal(source.loaded, false);
    assert.equal(source.usable(), false);
    assert.equal(await source.read({ create: true }), true);
    assert.ok(lines.includes(`info: Created ${path} with the default settings`));
    assert.equal(source.loaded, true);
    assert.equal(source.usable(), false); // no server_url, no api_key
    assert.equal(await source.read({ create: false }), false);

    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(
      path,
      text.replace(/^api_key =.*$/m, `api_key = ${KEY}`)
        .replace(/^server_url =.*$/m, "server_url = https://127.0.0.1:8000"),
    );
    assert.equal(await source.read({ create: false }), true);
    assert.equal(source.usable(), true);
    assert.deepEqual(redacted.at(-1), KEY);
    assert.match(describeSettings(source.config), /API key 4795…beef/);
    assert.ok(!describeSettings(source.config).includes(KEY));

    await Deno.writeTextFile(path, "[API]\nhealth_check_interval = abc\n");
    assert.equal(await source.read({ create: false }), true);
    assert.ok(source.error);
    assert.deepEqual(source.problems(), [source.error]);
    assert.equal(source.config.serverUrl, "https://127.0.0.1:8000"); // the settings read before
    assert.match(lines.at(-1)!, /^error: .*; still using the settings read before/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config source without config.ini keeps the defaults and says nothing is sent", async () => {
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  const source = new ConfigSource(join(dir, "config.ini"), {
    installDir: dir,
    log: (level, message) => lines.push(`${level}: ${message}`),
    redact: () => {},
  });
  try {
    assert.equal(await source.read({ create: false }), true);
    assert.equal(source.loaded, false);
    assert.match(source.error!, /Config file not found/);
    assert.match(lines[0], /; events are recorded but nothing is sent until config.ini is fixed$/);
    assert.equal(source.config.healthCheckIntervalMs, 30 * 60_000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("before config.ini was ever readable, the settings line does not call its keys unset", () => {
  const config = fallbackConfig("/agent");
  const line = describeSettings(config, { loaded: false });
  assert.equal(
    line,
    "Settings: none read from config.ini yet (see the error above): nothing is sent; events are recorded with timestamps in UTC",
  );
  assert.ok(!line.includes("(not set)"));
  assert.match(describeSettings(config), /server \(not set\)/);
});

Deno.test("describeTls names how the server's certificate is checked", () => {
  const none = {
    serverUrl: "",
    tlsCaFile: "",
    tlsCaStore: "mozilla" as const,
    tlsServerSha256: "",
    tlsInsecure: false,
  };
  assert.equal(describeTls(none), "Deno's built-in Mozilla roots");
  assert.equal(describeTls({ ...none, tlsCaStore: "system" }), "the system's certificate store");
  assert.equal(describeTls({ ...none, tlsCaFile: "ca.pem" }), "only the CA in ca.pem");
  assert.equal(describeTls({ ...none, tlsInsecure: true }), "certificate NOT checked");
  assert.equal(
    describeTls({ ...none, tlsServerSha256: "ab".repeat(32) }),
    "pinned certificate abababababababab…",
  );
  assert.equal(
    describeTls({ ...none, serverUrl: "http://h:8000", tlsServerSha256: "ab".repeat(32) }),
    "no TLS: http://, unencrypted",
  );
});
