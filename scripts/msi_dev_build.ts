/**
 * Builds the MSIs that the Wine suite installs (tests/windows/msi_test.ts), on Linux, before
 * Wine starts (scripts/wine_test.sh runs it): a compiled winagentUSM.exe cannot be made here (no
 * denort, see scripts/compile.ts), so a development stand-in takes its place, the small launcher
 * scripts/msi/dev_launcher.c built with mingw-w64. It runs `<deno.exe> run <agent permissions>
 * <this checkout>\tests\windows\test_build.ts <its arguments>` (the test build: mod.ts plus
 * the test-only session controls) and returns deno.exe's exit code; the agent then sees
 * deno.exe as its runtime and makes a development install (docs/development.md, "Development install").
 *
 * Output in `<checkout>/.dev/msi/`: winagentUSM.exe (the launcher), winagentUSM-<v>.msi and
 * winagentUSM-<v with patch + 1>.msi (the upgrade), and manifest.json naming them.
 *
 * Usage: deno run -A scripts/msi_dev_build.ts [--deno-exe 'Z:\opt\deno-win\deno.exe']
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { AGENT_PERMISSIONS } from "../src/permissions.ts";
import { buildMsi, msiTable, productVersion } from "./msi.ts";

const root = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const out = join(root, ".dev", "msi");

/** The Windows (Wine Z:) path of a Unix path. */
export function winePath(path: string): string {
  return `Z:${path.replaceAll("/", "\\")}`;
}

/** A C wide-string literal. */
function wide(text: string): string {
  return `L"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** The next patch version: 0.1.0 → 0.1.1. */
export function nextPatch(version: string): string {
  const [major, minor, patch] = productVersion(version).split(".").map(Number);
  return `${major}.${minor}.${patch + 1}`;
}

async function compileLauncher(denoExe: string, output: string): Promise<void> {
  const args = [
    "-municode",
    "-O2",
    "-s",
    `-DDENO_EXE=${wide(denoExe)}`,
    `-DMOD_TS=${wide(winePath(join(root, "tests", "windows", "test_build.ts")))}`,
    `-DPERMISSIONS=${wide(AGENT_PERMISSIONS.join(" "))}`,
    join(root, "scripts", "msi", "dev_launcher.c"),
    "-o",
    output,
  ];
  let result;
  try {
    result = await new Deno.Command("x86_64-w64-mingw32-gcc", { args, stderr: "piped" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "x86_64-w64-mingw32-gcc is not installed: apt-get install -y gcc-mingw-w64-x86-64-win32",
      );
    }
    throw error;
  }
  if (!result.success) {
    throw new Error(`mingw-w64 failed:\n${new TextDecoder().decode(result.stderr)}`);
  }
}

if (import.meta.main) {
  const flag = Deno.args.indexOf("--deno-exe");
  const denoExe = flag >= 0 ? Deno.args[flag + 1] : "Z:\\opt\\deno-win\\deno.exe";
  const t0 = performance.now();
  try {
    await Deno.mkdir(out, { recursive: true });
    const exe = join(out, "winagentUSM.exe");
    await compileLauncher(denoExe, exe);
    const version = JSON.parse(await Deno.readTextFile(join(root, "deno.json"))).version;
    const versions = [productVersion(version), nextPatch(version)];
    const msis = [];
    for (const v of versions) {
      const output = join(out, `winagentUSM-${v}.msi`);
      await buildMsi({ exe, version: v, output });
      const properties = await msiTable(output, "Property");
      const productCode = properties.find(([name]) => name === "ProductCode")?.[1];
      msis.push({ version: v, path: winePath(output), productCode });
    }
    await Deno.writeTextFile(
      join(out, "manifest.json"),
      JSON.stringify({ launcher: winePath(exe), denoExe, msis }, null, 2) + "\n",
    );
    console.log(
      `msi_dev_build: launcher and ${msis.length} MSIs (${versions.join(", ")}) in ${out}, ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  } catch (error) {
    console.error(`msi_dev_build: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
