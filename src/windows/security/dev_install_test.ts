import assert from "node:assert/strict";
import { folderChain, unsafeFolderReason } from "./dev_install.ts";
import { asideName } from "./file_security.ts";
import { AGENT_FILE_PATTERN, temporaryExeName, UNINSTALL_BAT } from "../mgr/install_files.ts";

Deno.test("development install: every folder from deno.exe's up to the drive root is checked", () => {
  assert.deepEqual(folderChain("C:\\Users\\dev\\.deno\\bin"), [
    "C:\\Users\\dev\\.deno\\bin",
    "C:\\Users\\dev\\.deno",
    "C:\\Users\\dev",
    "C:\\Users",
    "C:\\",
  ]);
});

Deno.test("development install: a folder is unsafe when users may write it or its owner is not trusted", async (t) => {
  const table: [string, string | undefined][] = [
    ["O:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)", undefined], // Program Files
    ["O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;CI;0x100116;;;BU)", "BU may write to it"], // ProgramData
    [
      "O:S-1-5-21-1-2-3-1001D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)",
      "it is owned by S-1-5-21-1-2-3-1001",
    ],
    [
      "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;S-1-5-21-1-2-3-1001)",
      "S-1-5-21-1-2-3-1001 may write to it",
    ],
  ];
  for (const [sddl, reason] of table) {
    await t.step(sddl, () => assert.equal(unsafeFolderReason(sddl), reason));
  }
  // Wine: no stored owner, so only the writers count.
  assert.equal(
    unsafeFolderReason("O:S-1-5-21-0-0-0-1000D:(A;OICI;FA;;;SY)", { ownersStored: false }),
    undefined,
  );
});

Deno.test("install files: names of the moved-aside folder, the temporary exe, and uninstall.bat", () => {
  assert.equal(
    asideName("C:\\ProgramData\\UserSessionMon\\", Date.UTC(2026, 10, 25, 13, 5, 9)),
    "C:\\ProgramData\\UserSessionMon.untrusted-20261125T130509",
  );
  const temporary = temporaryExeName("C:\\ProgramData\\UserSessionMon", 4242);
  assert.equal(temporary, "C:\\ProgramData\\UserSessionMon\\winagentUSM.exe.4242.tmp");
  for (
    const name of [
      "winagentUSM.exe.4242.tmp",
      "winagentUSM.exe.4242.delete.tmp",
      "uninstall.bat",
      "config.ini",
    ]
  ) assert.ok(AGENT_FILE_PATTERN.test(name), name);
  assert.ok(!AGENT_FILE_PATTERN.test("winagentUSM.exe.bak"));
  const lines = UNINSTALL_BAT.split("\r\n");
  assert.equal(lines[0], "@echo off");
  assert.ok(lines.some((l) => l === 'set "USM_FROM_UNINSTALL_BAT=1"'));
  assert.ok(
    lines.some((l) =>
      l === '"%~dp0winagentUSM.exe" --service remove --purge --config "%~dp0config.ini"'
    ),
  );
  assert.ok(lines.some((l) => l.startsWith('del /f /q "%~dp0winagentUSM.exe"')));
  assert.equal(lines.at(-2), '(goto) 2>nul & del /f /q "%~f0" & rmdir "%~dp0" 2>nul');
  assert.ok(!UNINSTALL_BAT.replace(/\r\n/g, "").includes("\n"), "CRLF line ends only");
});
