import assert from "node:assert/strict";
import {
  AGENT_FILE_SDDL,
  describeOpenAccess,
  INSTALL_DIR_SDDL,
  isRestrictedDacl,
  isTrustedOwner,
  ordinaryWriters,
  parseDacl,
  parseOwner,
  PROTECTED_SDDL,
  sameDescriptor,
  SERVICE_SDDL,
  trustDecision,
  TRUSTED_INSTALLER_SID,
} from "./descriptor.ts";
import { PROTECTED_DACL_INFO } from "./file_security.ts";

Deno.test("the install folder SDDL is protected and grants full access to SYSTEM and Administrators only", () => {
  assert.equal(PROTECTED_SDDL, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)");
  const { flags, aces } = parseDacl(PROTECTED_SDDL);
  assert.equal(flags, "P");
  assert.deepEqual(aces, [
    { type: "A", flags: "OICI", rights: "FA", trustee: "SY" },
    { type: "A", flags: "OICI", rights: "FA", trustee: "BA" },
  ]);
  assert.ok(isRestrictedDacl(PROTECTED_SDDL));
  assert.equal(PROTECTED_DACL_INFO >>> 0, 0x8000_0004);
});

Deno.test("an inherited or user-writable DACL is not restricted", async (t) => {
  const table: [string, boolean][] = [
    ["D:(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", false], // not protected
    ["D:P(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)", false], // users may read
    ["D:PAI(A;OICIID;FA;;;S-1-5-18)(A;OICIID;FA;;;S-1-5-32-544)", true],
    ["O:BAD:P(A;;FA;;;SY)", true],
    ["D:P", false], // empty DACL: nobody
  ];
  for (const [sddl, restricted] of table) {
    await t.step(sddl, () => assert.equal(isRestrictedDacl(sddl), restricted));
  }
  assert.throws(() => parseDacl("O:BA"), SyntaxError);
});

Deno.test("the folder and file descriptors name Administrators as owner and the protected DACL", () => {
  assert.equal(INSTALL_DIR_SDDL, "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)");
  assert.equal(AGENT_FILE_SDDL, "O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)");
  assert.equal(parseOwner(INSTALL_DIR_SDDL), "BA");
  assert.ok(isRestrictedDacl(INSTALL_DIR_SDDL) && isRestrictedDacl(AGENT_FILE_SDDL));
});

Deno.test("only SYSTEM, Administrators and TrustedInstaller are trusted owners", async (t) => {
  const table: [string, boolean][] = [
    ["O:SYD:P", true],
    ["O:BAD:P", true],
    ["O:S-1-5-18D:P", true],
    ["O:S-1-5-32-544D:P", true],
    [`O:${TRUSTED_INSTALLER_SID}D:P`, true],
    ["O:S-1-5-21-1004336348-1177238915-682003330-1001D:P", false], // a standard user
    ["O:BUD:P", false],
    ["O:WDD:P", false],
    ["O:S-1-5-21-0-0-0-1000D:(A;;FA;;;SY)", false], // Wine's one user
    ["D:P", false], // no owner read back
  ];
  for (const [sddl, trusted] of table) {
    await t.step(sddl, () => assert.equal(isTrustedOwner(parseOwner(sddl)), trusted));
  }
});

Deno.test("trust decision: a reparse point is refused, an untrusted owner replaced", () => {
  assert.deepEqual(trustDecision({ reparsePoint: false, sddl: "O:BAD:P(A;;FA;;;BA)" }), {
    action: "secure",
  });
  const user = "O:S-1-5-21-1-2-3-1001D:(A;OICI;FA;;;S-1-5-21-1-2-3-1001)";
  const replaced = trustDecision({ reparsePoint: false, sddl: user });
  assert.equal(replaced.action, "replace");
  assert.match(
    (replaced as { reason: string }).reason,
    /owner S-1-5-21-1-2-3-1001 is not SYSTEM, Administrators or TrustedInstaller/,
  );
  assert.equal(trustDecision({ reparsePoint: true, sddl: "O:BAD:P" }).action, "refuse");
  // Even an administrator-owned junction is refused: its target is elsewhere.
  assert.match(
    (trustDecision({ reparsePoint: true, sddl: "O:SYD:P" }) as { reason: string }).reason,
    /junction or symbolic link/,
  );
  // Wine stores no owner: the check is skipped there (and made on real Windows).
  assert.equal(
    trustDecision({ reparsePoint: false, sddl: user, securityStored: false }).action,
    "secure",
  );
});

Deno.test("the service DACL lets other users query and interrogate, nothing else", () => {
  const { flags, aces } = parseDacl(SERVICE_SDDL);
  assert.equal(flags, "");
  const rights = Object.fromEntries(aces.map((ace) => [ace.trustee, ace.rights.match(/../g)!]));
  assert.deepEqual(Object.keys(rights), ["SY", "BA", "AU"]);
  assert.deepEqual(rights.AU, ["CC", "LC", "SW", "LO", "RC"]);
  for (const control of ["RP", "WP", "DT", "CR", "DC", "SD", "WD", "WO"]) {
    assert.ok(!rights.AU.includes(control), `AU must not hold ${control}`);
  }
  assert.ok(rights.BA.includes("CR") && rights.BA.includes("WD") && rights.BA.includes("SD"));
  assert.ok(rights.SY.includes("CR") && rights.SY.includes("WP"));
});

Deno.test("ordinary writers of a folder are read from its DACL", async (t) => {
  const table: [string, string[]][] = [
    ["D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", []],
    // C:\Program Files: users read and execute only; CREATOR OWNER is inherit-only
    ["D:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)", []],
    // C:\ProgramData: users may create folders and files (0x100116 write data/append/EA)
    ["D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;CI;0x100116;;;BU)", ["BU"]],
    // a user's profile
    ["D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;S-1-5-21-1-2-3-1001)", [
      "S-1-5-21-1-2-3-1001",
    ]],
    ["D:(A;OICI;FRFX;;;WD)(A;;FW;;;AU)", ["AU"]],
    ["D:(D;;FA;;;BU)(A;;0x1301bf;;;AU)", ["AU"]],
    // letters for file bits: DT delete child, LC add subfolder are writes; CC is read data
    ["D:(A;OICI;DT;;;BU)", ["BU"]],
    ["D:(A;CI;LC;;;BU)", ["BU"]],
    ["D:(A;;DCLCRPCR;;;AU)", ["AU"]],
    ["D:(A;;CCSWLO;;;BU)", []],
  ];
  for (const [sddl, writers] of table) {
    await t.step(sddl, () => assert.deepEqual(ordinaryWriters(sddl), writers));
  }
});

Deno.test("descriptors read back compare equal when only Windows' own AI flag or the order of rights differs", () => {
  assert.ok(sameDescriptor("O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", INSTALL_DIR_SDDL));
  assert.ok(sameDescriptor(INSTALL_DIR_SDDL, INSTALL_DIR_SDDL));
  assert.ok(
    sameDescriptor(
      "D:(A;;CCDCLCSWRPWPDTLOCRRC;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)(A;;LCCCSWRCLO;;;AU)",
      SERVICE_SDDL,
    ),
  );
  assert.ok(
    !sameDescriptor("O:S-1-5-21-1-2-3-1001D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", INSTALL_DIR_SDDL),
  );
  assert.ok(
    !sameDescriptor("O:BAD:(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", INSTALL_DIR_SDDL),
    "not protected",
  );
  assert.ok(
    !sameDescriptor("O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FR;;;BU)", INSTALL_DIR_SDDL),
  );
  assert.ok(!sameDescriptor("D:(A;;CCLCSWLORPRC;;;AU)", "D:(A;;CCLCSWLORC;;;AU)"), "start right");
});

Deno.test("describeOpenAccess names who else may write in a folder, in words", async (t) => {
  const table: [string, string | undefined][] = [
    ["O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", undefined],
    ["O:BAD:(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;BU)", "Users"],
    ["O:SYD:(A;;FA;;;WD)(A;OICIIO;FA;;;AU)", "Everyone"],
    [
      "O:S-1-5-21-1-2-3-1001D:P(A;OICI;FA;;;SY)",
      "its owner S-1-5-21-1-2-3-1001 (who may change its permissions)",
    ],
    ["O:BAD:(A;OICI;FR;;;BU)", undefined],
  ];
  for (const [sddl, expected] of table) {
    await t.step(sddl, () => assert.equal(describeOpenAccess(sddl), expected));
  }
});
