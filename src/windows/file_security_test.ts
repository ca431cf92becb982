import assert from "node:assert/strict";
import {
  isRestrictedDacl,
  parseDacl,
  PROTECTED_DACL_INFO,
  PROTECTED_SDDL,
} from "./file_security.ts";

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
