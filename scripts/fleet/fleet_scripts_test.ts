/**
 * The fleet scripts read `--status --json` fields and exit codes by name: each one they use must
 * exist. PowerShell does not run here; the JSON comes from the real CLI in its own process.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../../tests/support/agent_process.ts";
import { STATUS_EXIT_CODES } from "../../src/exit_codes.ts";

const HERE = new URL(".", import.meta.url);
const SCRIPTS = ["Detect-UsmAgent.ps1", "Get-UsmFleetStatus.ps1"];

Deno.test("every --status --json field the fleet scripts read exists", async () => {
  const dir = await Deno.makeTempDir({ prefix: "usm-fleet-" });
  try {
    const result = await runCli(["--status", "--json", "--config", join(dir, "config.ini")]);
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    for (const script of SCRIPTS) {
      const text = await Deno.readTextFile(new URL(script, HERE));
      const paths = [...text.matchAll(/\$status\.([A-Za-z]+(?:\.[A-Za-z]+)*)/g)].map((m) => m[1]);
      assert.ok(paths.length > 3, `${script} reads --status --json`);
      for (const path of paths) {
        let value: unknown = report;
        for (const [i, part] of path.split(".").entries()) {
          if (i > 0 && value === null) break; // e.g. lastHealthCheck is null without an agent
          if (part === "ToUpper") break; // a method of the string
          assert.ok(
            typeof value === "object" && value !== null && part in value,
            `${script} reads $status.${path}: no such field in --status --json`,
          );
          value = (value as Record<string, unknown>)[part];
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the fleet README's exit codes are --status's", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", HERE));
  const rows = [...readme.matchAll(/^\| (\d+) +\| `([a-z-]+)` +\|/gm)].map((
    m,
  ) => [m[2], Number(m[1])]);
  assert.deepEqual(Object.fromEntries(rows), STATUS_EXIT_CODES);
});
