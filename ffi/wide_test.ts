import assert from "node:assert/strict";
import { fromWide, fromWideBytes, readWide, wide, wideList } from "./wide.ts";

Deno.test("wide() encodes UTF-16 code units with a terminating NUL", async (t) => {
  const cases: [string, number[]][] = [
    ["", [0]],
    ["A", [0x41, 0]],
    ["é", [0xe9, 0]],
    ["Jörg", [0x4a, 0xf6, 0x72, 0x67, 0]],
    ["日本", [0x65e5, 0x672c, 0]],
    ["😀", [0xd83d, 0xde00, 0]],
    [
      "Global\\TermSrvReadyEvent",
      [..."Global\\TermSrvReadyEvent"].map((c) => c.charCodeAt(0))
        .concat(0),
    ],
  ];
  for (const [text, units] of cases) {
    await t.step(JSON.stringify(text), () => {
      assert.deepEqual([...wide(text)], units);
      assert.equal(fromWide(wide(text)), text);
    });
  }
});

Deno.test("wide() bytes are little-endian and never widened UTF-8", () => {
  const bytes = new Uint8Array(wide("ö").buffer);
  assert.deepEqual([...bytes], [0xf6, 0x00, 0x00, 0x00]);
});

Deno.test("wideList() ends each string and the list with NUL", () => {
  assert.deepEqual([...wideList(["a", "bc"])], [0x61, 0, 0x62, 0x63, 0, 0]);
  assert.deepEqual([...wideList([])], [0]);
});

Deno.test("fromWide() stops at the first NUL and reads to the end without one", () => {
  assert.equal(fromWide(new Uint16Array([0x61, 0x62, 0, 0x63])), "ab");
  assert.equal(fromWide(new Uint16Array([0x61, 0x62])), "ab");
  const buffer = new Uint16Array([0x78, 0x79, 0x7a, 0]).buffer;
  assert.equal(fromWideBytes(buffer, 2, 4), "yz");
  assert.equal(fromWideBytes(buffer), "xyz");
});

Deno.test("readWide() reads a NUL-terminated string from memory", () => {
  const units = wide("Zoë 日本");
  assert.equal(readWide(Deno.UnsafePointer.of(units)), "Zoë 日本");
  assert.equal(readWide(null), "");
  assert.equal(readWide(Deno.UnsafePointer.of(wide(""))), "");
  assert.equal(readWide(Deno.UnsafePointer.of(wide("abcdef")), 3), "abc");
});
