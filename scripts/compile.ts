/**
 * `deno task compile`: builds dist/winagentUSM.exe for x86_64-pc-windows-msvc with exactly the
 * permissions the agent needs baked in, and writes its SHA-256 beside it.
 *
 * `deno task compile --test-build` (or USM_TEST_BUILD=1) builds a TEST build instead, into
 * dist/test/winagentUSM.exe: its entry is tests/windows/test_build.ts, which adds the test-only
 * session controls (tests/windows/test_controls.ts) that the end-to-end tests drive. The release
 * build's entry is mod.ts, whose module graph holds no test control at all; never ship a test
 * build (the end-to-end workflow uses it on a throwaway runner only).
 *
 * `deno compile` needs the `denort` runtime of the target. It downloads it once (from Deno's
 * release site) into DENO_DIR; where that site cannot be reached, set DENORT_BIN to a denort
 * binary of the same Deno version and target (the full deno.exe is NOT a denort). This script
 * never waits for a download that cannot happen: it stops after DOWNLOAD_TIMEOUT_MS and says why.
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { AGENT_PERMISSIONS } from "../src/permissions.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const target = Deno.env.get("USM_TARGET") ?? "x86_64-pc-windows-msvc";
const testBuild = Deno.args.includes("--test-build") || Deno.env.get("USM_TEST_BUILD") === "1";
const unknown = Deno.args.filter((arg) => arg !== "--test-build");
if (unknown.length > 0) {
  console.error(`Unknown argument ${unknown[0]}: deno task compile accepts only --test-build`);
  Deno.exit(2);
}
const outDir = testBuild ? join(root, "dist", "test") : join(root, "dist");
const output = join(outDir, target.includes("windows") ? "winagentUSM.exe" : "winagentUSM");
const entry = testBuild ? join(root, "tests", "windows", "test_build.ts") : join(root, "mod.ts");
const TIMEOUT_MS = 10 * 60_000;

const denort = Deno.env.get("DENORT_BIN");

/** Tells, within seconds, whether the denort download can happen at all. */
async function downloadPossible(): Promise<boolean> {
  const cacheDir = Deno.env.get("DENO_DIR") ??
    join(Deno.env.get("HOME") ?? Deno.env.get("LOCALAPPDATA") ?? ".", ".cache", "deno");
  const cached = join(cacheDir, "dl", "release", `v${Deno.version.deno}`, `denort-${target}.zip`);
  if (await Deno.stat(cached).then(() => true, () => false)) return true;
  try {
    const conn = await Deno.connect({
      hostname: "dl.deno.land",
      port: 443,
      signal: AbortSignal.timeout(5000),
    } as Deno.ConnectOptions);
    conn.close();
    return true;
  } catch {
    return false;
  }
}

function explainNoRuntime(): void {
  console.error(
    `deno compile cannot get the denort runtime for ${target}: this machine cannot reach Deno's release downloads (dl.deno.land).\n` +
      `Build on a machine that can (the release workflow in .github/workflows/release.yml does), or set\n` +
      `DENORT_BIN to a denort binary of Deno ${Deno.version.deno} for ${target} (from denort-${target}.zip of that release; the full deno.exe will not do) and run deno task compile again.`,
  );
}

if (!denort && !(await downloadPossible())) {
  explainNoRuntime();
  Deno.exit(1);
}
await Deno.mkdir(outDir, { recursive: true });
const args = [
  "compile",
  "--no-check",
  "--target",
  target,
  "--output",
  output,
  ...AGENT_PERMISSIONS,
  "--no-prompt",
  entry,
];
console.log(
  `deno ${args.join(" ")}${denort ? `\n(runtime from DENORT_BIN=${denort})` : ""}`,
);
const child = new Deno.Command(Deno.execPath(), {
  args,
  stdout: "inherit",
  stderr: "piped",
  cwd: root,
}).spawn();
const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
const { code, stderr } = await child.output();
clearTimeout(timer);
const errors = new TextDecoder().decode(stderr);
if (code !== 0) {
  console.error(errors.trim());
  if (!denort && /dns error|download|connect|timed out|denort/i.test(errors) || code === 137) {
    explainNoRuntime();
  }
  Deno.exit(1);
}
const bytes = await Deno.readFile(output);
const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
await Deno.writeTextFile(`${output}.sha256`, `${hex}  ${output.split(/[\\/]/).pop()}\n`);
console.log(
  `Built ${testBuild ? "TEST build (test-only session controls; never ship it) " : ""}${output} (${
    (bytes.length / 1048576).toFixed(1)
  } MiB), SHA-256 ${hex}`,
);
