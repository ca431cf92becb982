/**
 * The systemd unit of scripts/systemd/winagentusm.service: its ExecStart is the agent's command
 * line (the permissions of src/permissions.ts, `--service run`, the config.ini in the folder the
 * unit's StateDirectory makes, which is the agent's default folder as root), and
 * `systemd-analyze verify` (where it is installed) finds nothing to say about it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { parseArgs } from "../src/cli/args.ts";
import { AGENT_PERMISSIONS } from "../src/permissions.ts";
import { posixInstallDir } from "../src/posix.ts";

const ROOT = fromFileUrl(new URL("..", import.meta.url));
const UNIT = join(ROOT, "scripts", "systemd", "winagentusm.service");

/** The unit's settings: section → key → values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const line of text.split("\n").map((l) => l.trim())) {
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1], current);
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(current && eq > 0, `not a setting: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

Deno.test("the systemd unit runs the agent's own command line on its default root folder", async () => {
  const unit = parseUnit(await Deno.readTextFile(UNIT));
  const service = unit.get("Service")!;
  const [execStart] = service.get("ExecStart")!;
  const [deno, run, ...rest] = execStart.split(/\s+/);
  assert.match(deno, /\/deno$/);
  assert.equal(run, "run");
  assert.deepEqual(rest.slice(0, AGENT_PERMISSIONS.length), [...AGENT_PERMISSIONS]);
  assert.match(rest[AGENT_PERMISSIONS.length], /\/mod\.ts$/);
  const options = parseArgs(rest.slice(AGENT_PERMISSIONS.length + 1));
  assert.equal(options.service, "run");
  const folder = posixInstallDir(() => undefined, 0);
  assert.equal(options.config, join(folder, "config.ini"));
  assert.equal(`/var/lib/${service.get("StateDirectory")![0]}`, folder);
  assert.equal(service.get("StateDirectoryMode")![0], "0700");
  assert.equal(service.get("KillSignal")![0], "SIGTERM");
  assert.equal(unit.get("Install")!.get("WantedBy")![0], "multi-user.target");
  // The session source is systemd-logind on the system bus: started after both.
  const after = unit.get("Unit")!.get("After")!.join(" ").split(/\s+/);
  for (const needed of ["dbus.service", "systemd-logind.service"]) {
    assert.ok(after.includes(needed), `After= lacks ${needed}`);
  }
  assert.equal(options.simulate, undefined);
});

async function hasSystemdAnalyze(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("systemd-analyze", { args: ["--version"] }).output();
    return success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "systemd-analyze verify accepts the unit without a warning",
  ignore: !(await hasSystemdAnalyze()),
  async fn() {
    // verify checks that ExecStart's program exists: point it at this Deno and this checkout.
    const dir = await Deno.makeTempDir({ prefix: "usm-unit-" });
    try {
      const text = (await Deno.readTextFile(UNIT))
        .replace("/usr/local/bin/deno", Deno.execPath())
        .replace("/opt/winagentUSM/mod.ts", join(ROOT, "mod.ts"));
      const path = join(dir, "winagentusm.service");
      await Deno.writeTextFile(path, text);
      const { code, stdout, stderr } = await new Deno.Command("systemd-analyze", {
        args: ["verify", path],
        env: { SYSTEMD_LOG_COLOR: "0" },
      }).output();
      const said = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
      assert.equal(code, 0, said);
      assert.equal(said.trim(), "", "systemd-analyze had something to say");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
