import assert from "node:assert/strict";
import {
  AGENT_FILE_PATTERN,
  DEV_PERMISSION_FLAGS,
  FAILURE_ACTIONS,
  FAILURE_RESET_SECONDS,
  isDevelopmentRuntime,
  quoteArg,
  quotePath,
  runsInPlace,
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
      "sessions.json",
      "agent.lock",
    ]
  ) assert.ok(AGENT_FILE_PATTERN.test(name), name);
  for (const name of ["notes.txt", "other.exe", "config.ini.bak"]) {
    assert.ok(!AGENT_FILE_PATTERN.test(name), name);
  }
});

Deno.test("an exe under %ProgramFiles% runs where it is: the service's command line names it, not a copy", () => {
  const env = (name: string) => name === "ProgramFiles" ? "C:\\Program Files" : undefined;
  const exe = "C:\\Program Files\\UserSessionMon\\winagentUSM.exe";
  assert.equal(runsInPlace(exe, env), true);
  assert.equal(runsInPlace("C:\\PROGRAM FILES\\UserSessionMon\\winagentUSM.exe", env), true);
  assert.equal(runsInPlace("C:\\Program Files Evil\\winagentUSM.exe", env), false);
  assert.equal(runsInPlace("C:\\Users\\bob\\Downloads\\winagentUSM.exe", env), false);
  assert.equal(runsInPlace("C:\\Program Files\\deno\\deno.exe", env), false, "development");
  assert.equal(runsInPlace(exe, () => undefined), false);
  assert.equal(
    serviceBinaryPath({
      execPath: exe,
      installDir: "C:\\ProgramData\\UserSessionMon",
      modulePath: "",
      exePath: exe,
    }),
    `"${exe}" --service run --config "C:\\ProgramData\\UserSessionMon\\config.ini"`,
  );
});
