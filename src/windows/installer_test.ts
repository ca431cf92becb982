import assert from "node:assert/strict";
import {
  AGENT_FILE_PATTERN,
  DEV_PERMISSION_FLAGS,
  FAILURE_ACTIONS,
  FAILURE_RESET_SECONDS,
  importedSettings,
  isDevelopmentRuntime,
  quoteArg,
  quotePath,
  serviceBinaryPath,
  windowsInstallDir,
} from "./installer.ts";
import { stateName } from "./scm.ts";

Deno.test("quoteArg() follows CommandLineToArgvW's rules", async (t) => {
  const table: [string, string][] = [
    ["run", "run"],
    ["", '""'],
    ["C:\\Program Files\\x.exe", '"C:\\Program Files\\x.exe"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["C:\\dir with space\\", '"C:\\dir with space\\\\"'],
    ['a\\"b', '"a\\\\\\"b"'],
    ["C:\\no_space\\x.exe", "C:\\no_space\\x.exe"],
  ];
  for (const [arg, quoted] of table) {
    await t.step(JSON.stringify(arg), () => assert.equal(quoteArg(arg), quoted));
  }
  assert.equal(quotePath("C:\\ProgramData\\x.exe"), '"C:\\ProgramData\\x.exe"');
});

Deno.test("the service binary path of an installed agent quotes both paths", () => {
  assert.equal(
    serviceBinaryPath({
      execPath: "D:\\Downloads\\agent package\\winagentUSM.exe",
      installDir: "C:\\ProgramData\\UserSessionMon",
      modulePath: "unused",
    }),
    '"C:\\ProgramData\\UserSessionMon\\winagentUSM.exe" --service run --config "C:\\ProgramData\\UserSessionMon\\config.ini"',
  );
});

Deno.test("a development install runs the checkout's mod.ts with deno.exe and its permissions", () => {
  assert.ok(isDevelopmentRuntime("C:\\tools\\Deno.EXE"));
  assert.ok(!isDevelopmentRuntime("C:\\ProgramData\\UserSessionMon\\winagentUSM.exe"));
  assert.equal(
    serviceBinaryPath({
      execPath: "C:\\tools\\deno.exe",
      installDir: "C:\\Program Data\\USM",
      modulePath: "Z:\\work\\main\\mod.ts",
    }),
    `"C:\\tools\\deno.exe" run ${
      DEV_PERMISSION_FLAGS.join(" ")
    } "Z:\\work\\main\\mod.ts" --service run --config "C:\\Program Data\\USM\\config.ini"`,
  );
  assert.ok(DEV_PERMISSION_FLAGS.includes("--allow-ffi"));
});

Deno.test("an imported config sets only the known keys it gives values", () => {
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
  assert.deepEqual(importedSettings(text, "import.ini"), {
    api_key: "47959c6d0123456789",
    server_url: "https://192.168.27.1:8000",
    install_dir: "D:\\USM",
    event_log_rotation_size_mb: "7",
  });
});

Deno.test("an imported config with a bad value is refused before anything is installed", () => {
  const text = "[API]\r\nserver_url = https://192.168.27.1:8000\r\ntimezone = Mars/Olympus\r\n";
  assert.throws(
    () => importedSettings(text, "C:\\pkg\\config.ini"),
    (error: Error) => {
      assert.equal(error.name, "ConfigError");
      assert.match(error.message, /timezone in C:\\pkg\\config\.ini line 3: "Mars\/Olympus"/);
      return true;
    },
  );
});

Deno.test("service defaults: install folder, failure actions, states, purge pattern", () => {
  assert.equal(
    windowsInstallDir((name) => name === "ProgramData" ? "C:\\ProgramData" : undefined),
    "C:\\ProgramData\\UserSessionMon",
  );
  assert.equal(windowsInstallDir(() => undefined), "C:\\ProgramData\\UserSessionMon");
  assert.deepEqual(FAILURE_ACTIONS.map((a) => [a.type, a.delayMs]), [
    [1, 10_000],
    [1, 10_000],
    [1, 60_000],
  ]);
  assert.equal(FAILURE_RESET_SECONDS, 86_400);
  assert.equal(stateName(4), "RUNNING");
  assert.equal(stateName(1), "STOPPED");
  assert.equal(stateName(99), "state 99");
  for (
    const name of [
      "config.ini",
      "event_log.csv",
      "event_log.1.csv",
      "error.log",
      "session_monitor.log.2",
      "winagentUSM.exe",
      "status.json",
      "agent.lock",
    ]
  ) assert.ok(AGENT_FILE_PATTERN.test(name), name);
  for (const name of ["notes.txt", "other.exe", "config.ini.bak"]) {
    assert.ok(!AGENT_FILE_PATTERN.test(name), name);
  }
});
