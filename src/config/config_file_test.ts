import assert from "node:assert/strict";
import {
  ConfigError,
  configProblems,
  loadConfig,
  parseConfig,
  updateConfigFile,
} from "./config.ts";
import { DEFAULTS, KEY, SERVER_FILE } from "../../tests/support/config_fixtures.ts";
import { listDir, withDir } from "../../tests/support/temp_dir.ts";

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
    assert.deepEqual(await listDir(`${dir}/sub`), ["config.ini"]);
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
    assert.deepEqual(await listDir(dir), ["config.ini"]);
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
    assert.deepEqual(await listDir(dir), ["config.ini"]);
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
    assert.deepEqual(await listDir(dir), ["config.ini"]);
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
    assert.deepEqual(await listDir(dir), ["config.ini"]);
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
    assert.deepEqual(await listDir(dir), ["config.ini"]);
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
    assert.deepEqual(await listDir(dir), ["config.ini"]);
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
    assert.deepEqual(await listDir(dir), []);
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
