/**
 * The trust decisions from descriptors read back (SDDL as GetSecurityInfo gives it), for each
 * ordinary trustee and each right: the install folder and the entries in it (trustDecision,
 * entryProblem), and the folders above it (parentProblem).
 */
import assert from "node:assert/strict";
import { entryProblem, ordinaryReplacers, parentProblem, trustDecision } from "./descriptor.ts";
import { parentRefusal } from "./install_parents.ts";
import { enableRequest, OWNERSHIP_PRIVILEGES } from "./privileges.ts";
import { decodeTokenPrivileges, SE_PRIVILEGE_ENABLED } from "../../../ffi/privileges.ts";

/** Trustees that are neither SYSTEM, the Administrators nor TrustedInstaller, alias and SID. */
const ORDINARY = [
  "WD", // Everyone
  "S-1-1-0",
  "BU", // Users
  "S-1-5-32-545",
  "AU", // Authenticated Users
  "S-1-5-11",
  "IU", // INTERACTIVE
  "S-1-5-4",
  "BG", // Guests
  "DU", // Domain Users
  "S-1-5-21-1-2-3-1001", // a user
];
/** Each right that lets its holder write, add files or folders, delete, or change the DACL. */
const WRITE_RIGHTS = [
  "FA",
  "FW",
  "GA",
  "GW",
  "0x2", // FILE_WRITE_DATA / FILE_ADD_FILE
  "0x4", // FILE_APPEND_DATA / FILE_ADD_SUBDIRECTORY
  "0x40", // FILE_DELETE_CHILD
  "DT", // the same, as letters
  "LC", // FILE_ADD_SUBDIRECTORY, as letters
  "DC", // FILE_WRITE_DATA, as letters
  "SD", // DELETE
  "WD", // WRITE_DAC
  "WO", // WRITE_OWNER
  "0x1301bf", // Modify
  "0x100116", // what Users hold on C:\ProgramData's subfolders
];
/** Read rights: no ordinary holder of these is a reason to distrust a folder. */
const READ_RIGHTS = ["FR", "FX", "0x1200a9", "CCSWLORC", "GR", "GX"];
/** The rights that let a user rename or delete a folder or a folder in it. */
const REPLACE_RIGHTS = ["FA", "GA", "SD", "DT", "0x40", "WD", "WO", "0x1301bf", "0x10000"];
/** Rights a parent may grant ordinary users: adding files and folders, writing, reading. */
const HARMLESS_PARENT_RIGHTS = ["FR", "FX", "FW", "GW", "0x100116", "0x4", "LC", "0x1200a9"];

const SAFE = "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";
const decide = (sddl: string, entries?: () => string | undefined) =>
  trustDecision({ reparsePoint: false, sddl, entries });

Deno.test("trust: a folder that gives any ordinary user any write right is replaced", async (t) => {
  for (const trustee of ORDINARY) {
    for (const right of WRITE_RIGHTS) {
      const sddl = `${SAFE}(A;OICI;${right};;;${trustee})`;
      await t.step(sddl, () => {
        const decision = decide(sddl, () => assert.fail("entries are not looked at"));
        assert.equal(decision.action, "replace");
        assert.match((decision as { reason: string }).reason, /permissions let .* write in it/);
      });
    }
  }
});

Deno.test("trust: read rights, inherit-only entries and deny entries leave a folder trusted", async (t) => {
  const table = [
    ...ORDINARY.flatMap((trustee) => READ_RIGHTS.map((r) => `${SAFE}(A;OICI;${r};;;${trustee})`)),
    `${SAFE}(A;OICIIO;FA;;;BU)`, // applies to children only, whose owners are checked
    `${SAFE}(A;OICIIO;FA;;;CO)`,
    `${SAFE}(D;OICI;FA;;;WD)`,
    "O:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;S-1-5-32-544)",
    "O:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464D:P(A;;FA;;;SY)",
    "O:BAD:P(D;OICI;FA;;;WD)", // a DACL that denies everyone: an administrator's own folder
  ];
  for (const sddl of table) {
    await t.step(sddl, () => assert.deepEqual(decide(sddl, () => undefined), { action: "secure" }));
  }
});

Deno.test("trust: C:\\ProgramData's inherited ACL makes an administrator's subfolder untrusted", () => {
  const inherited = "O:BAD:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIIOID;GA;;;CO)" +
    "(A;OICIID;0x1200a9;;;BU)(A;CIID;DCLCRPCR;;;BU)";
  const decision = decide(inherited);
  assert.equal(decision.action, "replace");
  assert.match((decision as { reason: string }).reason, /Users \(BU\) write in it/);
});

Deno.test("trust: a folder is replaced when an entry inside is not trusted", async (t) => {
  for (const owner of ORDINARY) {
    await t.step(`an entry owned by ${owner}`, () => {
      const problem = entryProblem("userenv.dll", `O:${owner}D:(A;;FA;;;SY)`);
      assert.match(problem!, /it holds userenv\.dll, owned by .*not SYSTEM, Administrators/);
      assert.deepEqual(decide(SAFE, () => problem), { action: "replace", reason: problem });
    });
  }
  for (const trustee of ["BU", "AU", "WD", "IU"]) {
    await t.step(`an entry ${trustee} may write`, () => {
      const problem = entryProblem("sub\\iphlpapi.dll", `O:BAD:(A;;FA;;;SY)(A;;FW;;;${trustee})`);
      assert.match(problem!, /it holds sub\\iphlpapi\.dll, which .* may write/);
    });
  }
  for (const owner of ["SY", "BA", "S-1-5-18", "S-1-5-32-544"]) {
    await t.step(`an entry owned by ${owner} and read by Users`, () => {
      assert.equal(entryProblem("config.ini", `O:${owner}D:(A;;FA;;;SY)(A;;FR;;;BU)`), undefined);
    });
  }
  assert.deepEqual(decide(SAFE, () => undefined), { action: "secure" });
});

Deno.test("trust: the owner and the reparse point come before the DACL and the entries", () => {
  const user = "O:S-1-5-21-1-2-3-1001D:P(A;OICI;FA;;;SY)";
  assert.match((decide(user) as { reason: string }).reason, /its owner S-1-5-21-1-2-3-1001/);
  assert.equal(
    trustDecision({ reparsePoint: true, sddl: `${SAFE}(A;;FA;;;WD)` }).action,
    "refuse",
  );
  // Wine makes its descriptors up: only the reparse point is judged there.
  assert.equal(
    trustDecision({ reparsePoint: false, sddl: `${user}(A;;FA;;;WD)`, securityStored: false })
      .action,
    "secure",
  );
});

Deno.test("parents: each ordinary user with a right to rename or delete makes a parent unsafe", async (t) => {
  for (const trustee of ORDINARY) {
    for (const right of REPLACE_RIGHTS) {
      const sddl = `${SAFE}(A;OICI;${right};;;${trustee})`;
      await t.step(sddl, () => {
        assert.deepEqual(ordinaryReplacers(sddl), [trustee]);
        assert.match(
          parentProblem({ reparsePoint: false, sddl })!,
          /may rename or delete it or the folders in it/,
        );
      });
    }
    for (const right of HARMLESS_PARENT_RIGHTS) {
      const sddl = `${SAFE}(A;OICI;${right};;;${trustee})`;
      await t.step(
        sddl,
        () => assert.equal(parentProblem({ reparsePoint: false, sddl }), undefined),
      );
    }
  }
});

Deno.test("parents: the system folders pass; a drive root's admin-made folder and links fail", async (t) => {
  const table: [string, string, RegExp | undefined][] = [
    [
      "C:\\",
      "O:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464D:PAI(A;OICI;FA;;;BA)" +
      "(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)(A;OICIIO;SDGXGWGR;;;AU)(A;;LC;;;AU)",
      undefined,
    ],
    [
      "C:\\ProgramData",
      "O:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)" +
      "(A;CI;DCLCRPCR;;;BU)",
      undefined,
    ],
    [
      "C:\\Program Files",
      "O:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464D:PAI" +
      "(A;;FA;;;S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464)" +
      "(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)",
      undefined,
    ],
    [
      "D:\\Agents made by an administrator at a drive's root",
      "O:BAD:AI(A;OICIID;FA;;;BA)(A;OICIID;FA;;;SY)(A;OICIID;0x1200a9;;;BU)" +
      "(A;OICIID;0x1301bf;;;AU)",
      /Authenticated Users \(AU\) may rename or delete it/,
    ],
    [
      "D:\\Agents made by a user",
      "O:S-1-5-21-1-2-3-1001D:AI(A;OICIID;FA;;;BA)(A;OICIID;FA;;;SY)",
      /its owner S-1-5-21-1-2-3-1001 may change its permissions/,
    ],
  ];
  for (const [what, sddl, problem] of table) {
    await t.step(what, () => {
      const found = parentProblem({ reparsePoint: false, sddl });
      if (problem) assert.match(found!, problem);
      else assert.equal(found, undefined);
    });
  }
  assert.match(parentProblem({ reparsePoint: true, sddl: SAFE })!, /junction or symbolic link/);
  assert.equal(
    parentProblem({
      reparsePoint: false,
      sddl: "O:S-1-5-21-9D:(A;;FA;;;WD)",
      securityStored: false,
    }),
    undefined,
  );
});

Deno.test("parents: the refusal names the install folder, the parent, the problem and the fix", () => {
  const text = parentRefusal("D:\\Agents\\USM", "D:\\Agents", "Users (BU) may rename it");
  assert.match(
    text,
    /^Refusing to install in D:\\Agents\\USM: its parent folder D:\\Agents is not safe: Users \(BU\) may rename it, /,
  );
  assert.match(text, /install_dir under C:\\ProgramData/);
  assert.match(text, /icacls "D:\\Agents" \/setowner \*S-1-5-32-544/);
});

Deno.test("privileges: backup, restore and take-ownership, each asked enabled in one request", () => {
  assert.deepEqual([...OWNERSHIP_PRIVILEGES], [
    "SeBackupPrivilege",
    "SeRestorePrivilege",
    "SeTakeOwnershipPrivilege",
  ]);
  const request = enableRequest([17n, 18n, 9n]);
  assert.equal(request.byteLength, 4 + 12 * 3);
  assert.deepEqual(decodeTokenPrivileges(request), [
    { luid: 17n, attributes: SE_PRIVILEGE_ENABLED },
    { luid: 18n, attributes: SE_PRIVILEGE_ENABLED },
    { luid: 9n, attributes: SE_PRIVILEGE_ENABLED },
  ]);
});
