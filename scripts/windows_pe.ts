/**
 * A real Windows PE file for the release scripts' tests on Linux: deno.exe from the npm package
 * `@deno/win32-x64` (the version of the Deno that runs the tests), cached in
 * `.dev/deno-win/<version>/deno.exe` (or taken from the Wine environment's copy). Undefined,
 * with the reason, when npm cannot be reached.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));

async function isFile(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isFile, () => false);
}

/** The path of a Windows deno.exe, or the reason there is none. */
export async function windowsDenoExe(
  version = Deno.version.deno,
): Promise<{ path: string } | { missing: string }> {
  const cached = join(root, ".dev", "deno-win", version, "deno.exe");
  if (await isFile(cached)) return { path: cached };
  const wine = "/opt/usm-wine/opt/deno-win";
  const wineVersion = await Deno.readTextFile(join(wine, "VERSION")).catch(() => "");
  if (wineVersion.trim() === version && await isFile(join(wine, "deno.exe"))) {
    return { path: join(wine, "deno.exe") };
  }
  const work = await Deno.makeTempDir({ prefix: "usm-deno-win-" });
  try {
    const pack = await new Deno.Command("npm", {
      args: ["pack", "--silent", `@deno/win32-x64@${version}`],
      cwd: work,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(180_000),
    }).output().catch((error) => ({
      success: false,
      stderr: new TextEncoder().encode(String(error)),
    }));
    if (!pack.success) {
      return {
        missing: `npm pack @deno/win32-x64@${version} failed (npm unreachable?): ${
          new TextDecoder().decode(pack.stderr).trim().split("\n").at(-1)
        }`,
      };
    }
    const tgz = [...Deno.readDirSync(work)].find((e) => e.name.endsWith(".tgz"))!.name;
    const untar = await new Deno.Command("tar", {
      args: ["-xzf", tgz, "package/deno.exe"],
      cwd: work,
    }).output();
    if (!untar.success) return { missing: `${tgz} holds no package/deno.exe` };
    await Deno.mkdir(join(cached, ".."), { recursive: true });
    await Deno.rename(join(work, "package", "deno.exe"), cached);
    return { path: cached };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}
