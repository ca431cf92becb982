/**
 * The version resource step of the release, on Linux, with a real PE file (deno.exe from the npm
 * package @deno/win32-x64): written, read back, other resources kept; and why it is written
 * after `deno compile`, not into the DENORT_BIN base binary.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
// @ts-types="./resedit_types.d.ts"
import * as PE from "pe-library";
import {
  agentVersionInfo,
  readVersionResource,
  versionNumbers,
  withVersionResource,
} from "./version_resource.ts";
import { windowsDenoExe } from "./windows_pe.ts";

const pe = await windowsDenoExe();
if ("missing" in pe) console.warn(`scripts/version_resource_test.ts: skipped: ${pe.missing}`);
const ignore = "missing" in pe;

function resourceEntries(bytes: Uint8Array) {
  const exe = PE.NtExecutable.from(bytes, { ignoreCert: true });
  return PE.NtExecutableResource.from(exe).entries;
}

Deno.test("versionNumbers: four 16-bit parts", () => {
  assert.deepEqual(versionNumbers("1.2.3"), [1, 2, 3, 0]);
  assert.deepEqual(versionNumbers("1.2.3-rc.1"), [1, 2, 3, 0]);
  assert.deepEqual(versionNumbers("1.2.3.4"), [1, 2, 3, 4]);
  assert.throws(() => versionNumbers("one"), TypeError);
  assert.throws(() => versionNumbers("70000.0.0"), RangeError);
});

Deno.test({
  name: "the version resource is written into deno.exe and read back; its other resources stay",
  ignore,
  async fn() {
    const path = (pe as { path: string }).path;
    const original = await Deno.readFile(path);
    assert.equal(readVersionResource(original)?.strings.ProductName, "Deno");
    const t0 = performance.now();
    const written = withVersionResource(original, agentVersionInfo("4.5.6"));
    console.log(
      `measured: resource written into ${(original.length / 1048576).toFixed(1)} MiB in ${
        (performance.now() - t0).toFixed(0)
      } ms`,
    );
    const read = readVersionResource(written)!;
    assert.equal(read.fileVersion, "4.5.6.0");
    assert.equal(read.productVersion, "4.5.6.0");
    assert.equal(read.strings.ProductName, "User Session Monitor Agent");
    assert.equal(read.strings.FileVersion, "4.5.6");
    assert.equal(read.strings.ProductVersion, "4.5.6");
    assert.equal(read.strings.OriginalFilename, "winagentUSM.exe");
    assert.match(read.strings.FileDescription, /User Session Monitor Agent/);
    assert.ok(!("LegalCopyright" in read.strings), "deno's own strings are replaced, not merged");
    // Icons, manifest and the rest of deno.exe's resources are kept.
    const kind = (e: { type: string | number; id: string | number }) => `${e.type}/${e.id}`;
    const before = resourceEntries(original).filter((e) => e.type !== 16).map(kind);
    const after = resourceEntries(written).map(kind);
    for (const entry of before) assert.ok(after.includes(entry), `resource ${entry} kept`);
  },
});

Deno.test({
  name: "deno compile drops a base binary's version resource, so it is written after compiling",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "usm-rc-" });
    try {
      const base = join(dir, "denort.exe");
      await Deno.writeFile(
        base,
        withVersionResource(
          await Deno.readFile((pe as { path: string }).path),
          agentVersionInfo("4.5.6"),
        ),
      );
      await Deno.writeTextFile(join(dir, "main.ts"), 'console.log("hello");\n');
      const output = join(dir, "app.exe");
      // The full deno.exe stands in for denort: the output does not run, but its resources are
      // laid out by the same compile step as the release's.
      const compile = await new Deno.Command(Deno.execPath(), {
        args: [
          "compile",
          "--no-check",
          "--target",
          "x86_64-pc-windows-msvc",
          "-o",
          output,
          "main.ts",
        ],
        cwd: dir,
        env: { DENORT_BIN: base },
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(compile.success, new TextDecoder().decode(compile.stderr));
      const compiled = await Deno.readFile(output);
      assert.equal(readVersionResource(compiled), undefined, "compile kept the base's resource?");
      const payload = resourceEntries(compiled).find((e) => e.type === 10 && e.id === "D3N0L4ND");
      assert.ok(payload, "the compiled exe's payload is an RCDATA resource D3N0L4ND");

      // Written after compiling: the version resource is there and the payload is unchanged.
      const final = withVersionResource(compiled, agentVersionInfo("4.5.6"));
      assert.equal(readVersionResource(final)?.strings.ProductVersion, "4.5.6");
      const kept = resourceEntries(final).find((e) => e.type === 10 && e.id === "D3N0L4ND")!;
      assert.deepEqual(new Uint8Array(kept.bin), new Uint8Array(payload.bin));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
