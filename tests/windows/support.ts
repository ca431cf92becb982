/**
 * Helpers shared by the Windows service tests: running a command and collecting its output,
 * running the agent's test build (the development install then runs it, test controls included),
 * and waiting for a condition with a deadline.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { DEV_PERMISSION_FLAGS } from "../../src/windows/mgr/installer.ts";

/** The test build's entry: mod.ts plus the test-only session controls. */
export const TEST_BUILD = fileURLToPath(new URL("./test_build.ts", import.meta.url));

/** Runs `program` with `args`; its exit code and its stdout and stderr joined. */
export async function run(
  program: string,
  ...args: string[]
): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** Runs the agent's test build with `args` (`deno run <agent permissions> test_build.ts`). */
export function testBuildCli(...args: string[]): Promise<{ code: number; output: string }> {
  return run(Deno.execPath(), "run", ...DEV_PERMISSION_FLAGS, TEST_BUILD, ...args);
}

/** Polls `probe` until it gives a value other than undefined or false, or `timeoutMs` passes. */
export async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  options: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = performance.now() + (options.timeoutMs ?? 30_000);
  while (performance.now() < deadline) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 100));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/**
 * A new temporary folder to install into. On real Windows it is made under C:\ProgramData: the
 * install refuses a folder whose parents a non-administrator may rename (install_parents.ts),
 * and the runner's %TEMP% belongs to its user. Wine makes its descriptors up, so %TEMP% there.
 */
export function makeInstallParent(prefix: string): Promise<string> {
  const realWindows = Deno.env.get("USM_REAL_WINDOWS") === "1";
  return Deno.makeTempDir({ prefix, dir: realWindows ? "C:\\ProgramData" : undefined });
}
