/**
 * The files of an install under Windows / Wine: the executable replaced through a temporary
 * name (and a replacement refused while the old one is held open, with a message that says so),
 * uninstall.bat written, and `remove --purge` run from the
 * installed executable (renamed out of the way, deleted at the next restart, said so) or from
 * uninstall.bat (left to the batch file).
 */
import assert from "node:assert/strict";
import { sameDescriptor } from "../../src/windows/security/descriptor.ts";
import { readDescriptor } from "../../src/windows/security/file_security.ts";
import { PARENT_DIR_SDDL } from "../../src/windows/security/install_parents.ts";
import { makeInstallParent } from "./support.ts";
import {
  EXE_NAME,
  FROM_UNINSTALL_BAT_ENV,
  prepareInstallDir,
  purgeInstallDir,
  replaceExecutable,
  UNINSTALL_BAT,
  writeUninstaller,
} from "../../src/windows/mgr/install_files.ts";

const ignore = Deno.build.os !== "windows";

Deno.test({
  name: "install files: the exe is replaced through a temporary name; uninstall.bat is written",
  ignore,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "usm-files-" });
    try {
      const dir = `${tmp}\\install`;
      await Deno.mkdir(dir);
      await Deno.writeTextFile(`${dir}\\${EXE_NAME}`, "old");
      await Deno.writeTextFile(`${tmp}\\new.exe`, "new");
      const lines: string[] = [];
      await replaceExecutable(`${tmp}\\new.exe`, dir, (line) => lines.push(line));
      assert.equal(await Deno.readTextFile(`${dir}\\${EXE_NAME}`), "new");
      assert.deepEqual(
        [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
        [EXE_NAME],
        "no temporary file is left",
      );
      assert.match(lines.join("\n"), /Copied .*new\.exe to .*winagentUSM\.exe/);
      // Held open without FILE_SHARE_DELETE (as a process still running it does): refused,
      // the old file intact, no temporary file left.
      {
        using _held = await Deno.open(`${dir}\\${EXE_NAME}`, { read: true });
        await Deno.writeTextFile(`${tmp}\\newer.exe`, "newer");
        await assert.rejects(
          () => replaceExecutable(`${tmp}\\newer.exe`, dir, () => {}),
          /Cannot replace .*winagentUSM\.exe: .*another copy of the agent running from it/,
        );
      }
      assert.equal(await Deno.readTextFile(`${dir}\\${EXE_NAME}`), "new");
      await writeUninstaller(dir, () => {});
      assert.equal(await Deno.readTextFile(`${dir}\\uninstall.bat`), UNINSTALL_BAT);
      assert.ok(
        UNINSTALL_BAT.includes("\r\n") && UNINSTALL_BAT.includes("--service remove --purge"),
      );
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "install files: purge from the running exe renames it and leaves it to the next restart",
  ignore,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "usm-purge-" });
    try {
      const dir = `${tmp}\\install`;
      await Deno.mkdir(dir);
      for (const name of [EXE_NAME, "config.ini", "event_log.csv", "uninstall.bat"]) {
        await Deno.writeTextFile(`${dir}\\${name}`, "x");
      }
      const lines: string[] = [];
      await purgeInstallDir(dir, {
        print: (line) => lines.push(line),
        execPath: `${dir}\\${EXE_NAME}`, // as if this process were the installed exe
      });
      const left = [...Deno.readDirSync(dir)].map((e) => e.name);
      assert.equal(left.length, 1, left.join(", "));
      assert.match(left[0], /^winagentUSM\.exe\.\d+\.delete\.tmp$/);
      assert.match(lines.join("\n"), /Purged 3 file\(s\)/);
      assert.match(lines.join("\n"), /Windows deletes it and the folder at the next restart/);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "install files: purge run by uninstall.bat leaves the exe and the batch file to it",
  ignore,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "usm-purge-" });
    Deno.env.set(FROM_UNINSTALL_BAT_ENV, "1");
    try {
      const dir = `${tmp}\\install`;
      await Deno.mkdir(dir);
      for (const name of [EXE_NAME, "config.ini", "uninstall.bat", "notes.txt"]) {
        await Deno.writeTextFile(`${dir}\\${name}`, "x");
      }
      const lines: string[] = [];
      await purgeInstallDir(dir, {
        print: (line) => lines.push(line),
        execPath: `${dir}\\${EXE_NAME}`,
      });
      assert.deepEqual(
        [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
        ["notes.txt", "uninstall.bat", EXE_NAME].sort(),
      );
      assert.match(lines.join("\n"), /kept what the agent did not create: notes\.txt/);
      assert.match(lines.join("\n"), /uninstall\.bat deletes it/);
    } finally {
      Deno.env.delete(FROM_UNINSTALL_BAT_ENV);
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "install files: missing parents of the install folder are created with their descriptor",
  ignore,
  async fn() {
    const tmp = await makeInstallParent("usm-parents-");
    try {
      const installDir = `${tmp}\\Vendor\\Agents\\USM`;
      const lines: string[] = [];
      await prepareInstallDir(installDir, (line) => lines.push(line));
      assert.ok((await Deno.stat(installDir)).isDirectory);
      assert.match(lines.join("\n"), /Created .*\\Vendor: owner Administrators/);
      assert.match(lines.join("\n"), /Created .*\\Agents: owner Administrators/);
      if (Deno.env.get("USM_REAL_WINDOWS") === "1") {
        const sddl = readDescriptor(`${tmp}\\Vendor`);
        assert.ok(sameDescriptor(sddl, PARENT_DIR_SDDL), sddl);
      }
      // Again: nothing to create, the parents pass.
      const again: string[] = [];
      await prepareInstallDir(installDir, (line) => again.push(line));
      assert.doesNotMatch(again.join("\n"), /Created/);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "install files: a parent Authenticated Users may modify is refused, naming it and the fix",
  ignore: ignore || Deno.env.get("USM_REAL_WINDOWS") !== "1",
  async fn() {
    const tmp = await makeInstallParent("usm-parents-");
    try {
      const parent = `${tmp}\\Agents`;
      await Deno.mkdir(parent);
      const grant = await new Deno.Command("icacls", {
        args: [parent, "/grant", "*S-1-5-11:(OI)(CI)M"],
        stdout: "null",
      }).output();
      assert.ok(grant.success, "icacls /grant");
      await assert.rejects(
        () => prepareInstallDir(`${parent}\\USM`, () => {}),
        /Refusing to install in .*\\Agents\\USM: its parent folder .*\\Agents is not safe: Authenticated Users \(AU\) may rename or delete it.*icacls/,
      );
      assert.equal(await Deno.stat(`${parent}\\USM`).then(() => true, () => false), false);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
