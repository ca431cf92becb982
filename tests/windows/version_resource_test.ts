/**
 * The release's version resource step, checked by Windows itself (Windows / Wine): deno.exe with
 * the resource written by scripts/version_resource.ts still runs, and GetFileVersionInfoW /
 * VerQueryValueW read the product name and versions the release promises.
 */
import assert from "node:assert/strict";
import { agentVersionInfo, withVersionResource } from "../../scripts/version_resource.ts";

const ignore = Deno.build.os !== "windows";

function wide(text: string): Uint16Array {
  return new Uint16Array([...text].map((c) => c.charCodeAt(0)).concat(0));
}

/** One string of a file's version resource, as Explorer's Details tab reads it. */
function versionString(path: string, name: string): string | undefined {
  const version = Deno.dlopen("version.dll", {
    // DWORD GetFileVersionInfoSizeW(LPCWSTR lptstrFilename, LPDWORD lpdwHandle)
    GetFileVersionInfoSizeW: { parameters: ["buffer", "buffer"], result: "u32" },
    // BOOL GetFileVersionInfoW(LPCWSTR lptstrFilename, DWORD dwHandle, DWORD dwLen, LPVOID lpData)
    GetFileVersionInfoW: { parameters: ["buffer", "u32", "u32", "buffer"], result: "i32" },
    // BOOL VerQueryValueW(LPCVOID pBlock, LPCWSTR lpSubBlock, LPVOID* lplpBuffer, PUINT puLen)
    VerQueryValueW: { parameters: ["buffer", "buffer", "buffer", "buffer"], result: "i32" },
  });
  try {
    const size = version.symbols.GetFileVersionInfoSizeW(wide(path), null);
    if (size === 0) return undefined;
    const block = new Uint8Array(size);
    if (!version.symbols.GetFileVersionInfoW(wide(path), 0, size, block)) return undefined;
    const pointer = new BigUint64Array(1);
    const length = new Uint32Array(1);
    // 0409 U.S. English, 04b0 Unicode: the block scripts/version_resource.ts writes.
    const sub = wide(`\\StringFileInfo\\040904b0\\${name}`);
    if (!version.symbols.VerQueryValueW(block, sub, pointer, length) || length[0] === 0) {
      return undefined;
    }
    const view = new Deno.UnsafePointerView(Deno.UnsafePointer.create(pointer[0])!);
    const units = new Uint16Array(length[0]);
    view.copyInto(units);
    return new TextDecoder("utf-16le").decode(units).replace(/\0+$/, "");
  } finally {
    version.close();
  }
}

Deno.test({
  name: "version resource: the rewritten exe runs, and Windows reads its product name and version",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "usm-vr-" });
    try {
      const exe = `${dir}\\winagentUSM.exe`;
      await Deno.writeFile(
        exe,
        withVersionResource(await Deno.readFile(Deno.execPath()), agentVersionInfo("7.8.9")),
      );
      const run = await new Deno.Command(exe, { args: ["--version"], stdout: "piped" }).output();
      assert.ok(run.success, "the rewritten exe runs");
      assert.match(new TextDecoder().decode(run.stdout), /^deno \d/);
      assert.equal(versionString(exe, "ProductName"), "User Session Monitor Agent");
      assert.equal(versionString(exe, "ProductVersion"), "7.8.9");
      assert.equal(versionString(exe, "FileVersion"), "7.8.9");
      assert.match(versionString(exe, "FileDescription") ?? "", /User Session Monitor Agent/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
