import assert from "node:assert/strict";
import {
  decodeSecurityAttributes,
  encodeDwordInfo,
  encodeSecurityAttributes,
  SECURITY_ATTRIBUTES_SIZE,
  SERVICE_FAILURE_ACTIONS_FLAG_SIZE,
  SERVICE_PRESHUTDOWN_INFO_SIZE,
} from "./structs.ts";
import { systemLibraryPathFrom } from "./system32.ts";

Deno.test("SECURITY_ATTRIBUTES is 24 bytes on x64 with the descriptor at offset 8", () => {
  assert.equal(SECURITY_ATTRIBUTES_SIZE, 24);
  const bytes = encodeSecurityAttributes(0x1122_3344_5566_7788n);
  assert.equal(bytes.byteLength, 24);
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint32(0, true), 24, "nLength");
  assert.equal(dv.getBigUint64(8, true), 0x1122_3344_5566_7788n);
  assert.deepEqual(decodeSecurityAttributes(bytes), {
    length: 24,
    descriptor: 0x1122_3344_5566_7788n,
    inheritHandle: false,
  });
});

Deno.test("SERVICE_PRESHUTDOWN_INFO and SERVICE_FAILURE_ACTIONS_FLAG are one DWORD", () => {
  assert.equal(SERVICE_PRESHUTDOWN_INFO_SIZE, 4);
  assert.equal(SERVICE_FAILURE_ACTIONS_FLAG_SIZE, 4);
  assert.deepEqual([...encodeDwordInfo(15_000)], [0x98, 0x3a, 0, 0]);
  assert.deepEqual([...encodeDwordInfo(1)], [1, 0, 0, 0]);
});

Deno.test("DLLs are loaded from System32 by full path, never by a name with a path in it", () => {
  assert.equal(
    systemLibraryPathFrom("C:\\Windows\\system32", "wtsapi32.dll"),
    "C:\\Windows\\system32\\wtsapi32.dll",
  );
  assert.equal(systemLibraryPathFrom("C:\\Windows\\system32\\", ""), "C:\\Windows\\system32");
  for (const bad of ["..\\evil.dll", "x\\wtsapi32.dll", "wtsapi32", "C:\\a.dll"]) {
    assert.throws(() => systemLibraryPathFrom("C:\\Windows\\system32", bad), TypeError, bad);
  }
  assert.throws(() => systemLibraryPathFrom("system32", "kernel32.dll"), /not an absolute/);
});

Deno.test("no module in ffi/ opens a library by bare name", async () => {
  for await (const entry of Deno.readDir(new URL(".", import.meta.url))) {
    if (!entry.name.endsWith(".ts") || entry.name.endsWith("_test.ts")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, import.meta.url));
    const opens = [...text.matchAll(/Deno\.dlopen\(\s*"([^"]+)"/g)].map((m) => m[1]);
    // system32.ts's bootstrap of kernel32.dll (a KnownDLL) is the one allowed bare name.
    const allowed = entry.name === "system32.ts" ? ["kernel32.dll"] : [];
    assert.deepEqual(opens, allowed, `${entry.name} opens ${opens.join(", ")} by bare name`);
  }
});
