/**
 * The install folder's security through handles (Windows / Wine): created with its descriptor
 * in one call, an existing folder secured through one handle opened without following reparse
 * points, an untrusted owner moved aside, files given the owner too. The stored owner and DACL
 * and the reparse-point refusal are asserted only on real Windows (USM_REAL_WINDOWS=1, set by
 * .github/workflows/windows.yml): Wine stores neither an owner nor an ACL.
 */
import assert from "node:assert/strict";
import {
  AGENT_FILE_SDDL,
  INSTALL_DIR_SDDL,
  isTrustedOwner,
  parseOwner,
  sameDescriptor,
} from "../../src/windows/security/descriptor.ts";
import {
  createDirectoryWithDescriptor,
  FileHandle,
  readDescriptor,
  secureDirectory,
  secureFile,
  untrustedEntry,
} from "../../src/windows/security/file_security.ts";
import { withOwnershipPrivileges } from "../../src/windows/security/privileges.ts";

const ignore = Deno.build.os !== "windows";
const realWindows = Deno.env.get("USM_REAL_WINDOWS") === "1";

Deno.test({
  name: "file security: a new folder is created with its final descriptor in the same call",
  ignore,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "usm-sec-" });
    try {
      const dir = `${tmp}\\UserSessionMon`;
      assert.equal(createDirectoryWithDescriptor(dir), true);
      assert.equal(createDirectoryWithDescriptor(dir), false, "an existing name is reported");
      const sddl = readDescriptor(dir);
      console.log(`descriptor of a folder created with ${INSTALL_DIR_SDDL}: ${sddl}`);
      if (realWindows) assert.ok(sameDescriptor(sddl, INSTALL_DIR_SDDL), sddl);
      const lines: string[] = [];
      await secureDirectory(dir, { report: (line) => lines.push(line) });
      const file = `${dir}\\config.ini`;
      await Deno.writeTextFile(file, "[API]\n");
      await secureFile(file, { report: (line) => lines.push(line) });
      const fileSddl = readDescriptor(file);
      console.log(`after secureDirectory: ${readDescriptor(dir)}; file: ${fileSddl}`);
      if (realWindows) {
        assert.ok(sameDescriptor(readDescriptor(dir), INSTALL_DIR_SDDL), readDescriptor(dir));
        assert.ok(sameDescriptor(fileSddl, AGENT_FILE_SDDL), fileSddl);
        assert.deepEqual(lines, []);
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "file security: a missing folder is created by secureDirectory unless create is false",
  ignore,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "usm-sec-" });
    try {
      const dir = `${tmp}\\fresh`;
      await assert.rejects(() => secureDirectory(dir, { create: false }), Deno.errors.NotFound);
      assert.equal(await Deno.stat(dir).then(() => true, () => false), false);
      await secureDirectory(dir);
      assert.ok((await Deno.stat(dir)).isDirectory);
      using handle = FileHandle.open(dir)!;
      assert.equal(handle.isReparsePoint(), false);
      assert.equal(FileHandle.open(`${tmp}\\missing`), undefined);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "file security: a junction is refused through its own handle, its target untouched",
  ignore: ignore || !realWindows,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "usm-sec-" });
    try {
      const target = `${tmp}\\target`;
      await Deno.mkdir(target);
      const before = readDescriptor(target);
      const junction = `${tmp}\\UserSessionMon`;
      const made = await new Deno.Command("cmd", {
        args: ["/c", "mklink", "/J", junction, target],
        stdout: "null",
        stderr: "null",
      }).output();
      assert.ok(made.success, "mklink /J");
      using handle = FileHandle.open(junction)!;
      assert.equal(handle.isReparsePoint(), true);
      handle.close();
      await assert.rejects(() => secureDirectory(junction), /junction or symbolic link/);
      await assert.rejects(() => secureFile(junction), /junction or symbolic link/);
      assert.equal(readDescriptor(target), before, "the target's descriptor is unchanged");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "file security: a folder owned by a standard user is moved aside, a new one created",
  ignore: ignore || !realWindows,
  async fn() {
    const user = Deno.env.get("USM_TEST_STANDARD_USER");
    assert.ok(user, "USM_TEST_STANDARD_USER names the standard user the workflow created");
    const tmp = await Deno.makeTempDir({ prefix: "usm-sec-" });
    try {
      const dir = `${tmp}\\UserSessionMon`;
      await Deno.mkdir(dir);
      await Deno.writeTextFile(`${dir}\\planted.dll`, "x");
      const owned = await new Deno.Command("icacls", {
        args: [dir, "/setowner", user],
        stdout: "null",
        stderr: "null",
      }).output();
      assert.ok(owned.success, "icacls /setowner");
      assert.equal(isTrustedOwner(parseOwner(readDescriptor(dir))), false);
      const lines: string[] = [];
      await secureDirectory(dir, { report: (line) => lines.push(line) });
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0], /was not trusted: its owner .* Moved it aside to .*untrusted-/);
      assert.ok(sameDescriptor(readDescriptor(dir), INSTALL_DIR_SDDL), readDescriptor(dir));
      assert.equal(await Deno.stat(`${dir}\\planted.dll`).then(() => true, () => false), false);
      const aside = [...Deno.readDirSync(tmp)].find((e) => e.name.includes(".untrusted-"));
      assert.ok(aside, "the untrusted folder is kept aside for the administrator");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "file security: the entries of a folder are walked; the privileges are enabled and put back",
  ignore,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "usm-sec-" });
    try {
      const dir = `${tmp}\\walked`;
      await Deno.mkdir(`${dir}\\sub`, { recursive: true });
      await Deno.writeTextFile(`${dir}\\sub\\userenv.dll`, "x");
      const found = untrustedEntry(dir);
      console.log(`untrustedEntry: ${found}`);
      // Wine reads every owner as its one user: the walk reaches the file and names it. On
      // real Windows the elevated runner's files are owned by Administrators.
      if (realWindows) assert.equal(found, undefined);
      else assert.match(found ?? "", /it holds sub(\\userenv\.dll)?, owned by/);
      assert.equal(withOwnershipPrivileges(() => 42), 42);
      await secureDirectory(dir); // Wine: judged by its reparse point only, then secured
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

/** Runs icacls with `args`, asserting it succeeded. */
async function icacls(...args: string[]): Promise<void> {
  const out = await new Deno.Command("icacls", { args, stdout: "piped", stderr: "piped" })
    .output();
  assert.ok(out.success, `icacls ${args.join(" ")}: ${new TextDecoder().decode(out.stdout)}`);
}

Deno.test({
  name:
    "file security: a folder Users may write, or holding a standard user's file, is moved aside",
  ignore: ignore || !realWindows,
  async fn() {
    const user = Deno.env.get("USM_TEST_STANDARD_USER");
    assert.ok(user, "USM_TEST_STANDARD_USER names the standard user the workflow created");
    const tmp = await Deno.makeTempDir({ prefix: "usm-sec-" });
    try {
      const writable = `${tmp}\\Writable`;
      assert.ok(createDirectoryWithDescriptor(writable));
      await icacls(writable, "/grant", "*S-1-5-32-545:(OI)(CI)(AD,WD)");
      const planted = `${tmp}\\Planted`;
      assert.ok(createDirectoryWithDescriptor(planted));
      await Deno.writeTextFile(`${planted}\\iphlpapi.dll`, "x");
      await icacls(`${planted}\\iphlpapi.dll`, "/setowner", user);
      const cases: [string, RegExp][] = [
        [writable, /its permissions let Users \(BU\) write in it/],
        [planted, /it holds iphlpapi\.dll, owned by S-1-5-21-/],
      ];
      for (const [dir, reason] of cases) {
        const lines: string[] = [];
        await secureDirectory(dir, { report: (line) => lines.push(line) });
        assert.equal(lines.length, 1, lines.join("\n"));
        assert.match(lines[0], reason);
        assert.match(lines[0], /Moved it aside to .*\.untrusted-/);
        assert.ok(sameDescriptor(readDescriptor(dir), INSTALL_DIR_SDDL), readDescriptor(dir));
        assert.deepEqual([...Deno.readDirSync(dir)], [], "the new folder is empty");
      }
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "file security: a folder whose DACL denies everyone is secured all the same",
  ignore: ignore || !realWindows,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "usm-sec-" });
    try {
      const dir = `${tmp}\\Denied`;
      assert.ok(createDirectoryWithDescriptor(dir, "O:BAD:P(D;OICI;FA;;;WD)"));
      const lines: string[] = [];
      await secureDirectory(dir, { report: (line) => lines.push(line) });
      console.log(`deny-everyone folder: ${lines.join(" | ") || "secured in place"}`);
      assert.ok(sameDescriptor(readDescriptor(dir), INSTALL_DIR_SDDL), readDescriptor(dir));
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
