/**
 * `deno task demo`: the agent end to end on one machine. Starts the reference server double
 * (HTTPS with the reference server's kind of self-signed certificate), configures the agent for
 * it with the flags an administrator types, and runs the agent in the foreground fed by
 * testdata/demo_sessions.jsonl. Ctrl+C stops both.
 */
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { readLines } from "../src/text.ts";
import { AGENT_PERMISSIONS } from "../src/permissions.ts";

const root = fromFileUrl(new URL("..", import.meta.url));
const dir = join(root, ".dev", "demo");
const config = join(dir, "config.ini");

await Deno.mkdir(dir, { recursive: true });
const server = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", join(root, "tests/support/reference_server.ts"), "--bits", "2048"],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
// Only the first line is read; leaving the loop cancels the rest of stdout.
let first: string | undefined;
for await (const line of readLines(server.stdout)) {
  first = line;
  break;
}
if (first === undefined) throw new Error("The test server did not start");
const { url, apiKey } = JSON.parse(first);
console.log(`Test server listening at ${url}\n`);

const agent = (args: string[], stdin: "inherit" | "piped" | "null" = "null") =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", ...AGENT_PERMISSIONS, join(root, "mod.ts"), "--config", config, ...args],
    stdin,
    stdout: "inherit",
    stderr: "inherit",
  });

console.log(
  `$ winagentUSM --url ${url} --api-key <key> --pin-server-cert --timezone Europe/London`,
);
await agent(["--url", url, "--api-key", apiKey, "--pin-server-cert", "--timezone", "Europe/London"])
  .output();
// The file was made with this platform's install_dir (e.g. /var/lib/UserSessionMon); the demo's
// agent keeps its files beside its config.ini, so say that folder instead.
const text = await Deno.readTextFile(config);
await Deno.writeTextFile(config, text.replace(/^install_dir =.*$/m, `install_dir = ${dir}`));
console.log(
  `\n$ winagentUSM --service run --simulate testdata/demo_sessions.jsonl   (Ctrl+C stops)\n` +
    `  (its fifth line is not JSON on purpose: watch the agent report it and go on)\n`,
);
const running = agent([
  "--service",
  "run",
  "--simulate",
  join(root, "testdata/demo_sessions.jsonl"),
])
  .spawn();
const stop = () => {
  try {
    running.kill("SIGTERM");
  } catch { /* gone */ }
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
const status = await running.status;
try {
  server.kill("SIGTERM"); // Ctrl+C in a terminal has already stopped it
} catch { /* gone */ }
await server.status;
console.log(`\n$ cat ${join(".dev", "demo", "event_log.csv")}`);
console.log(await Deno.readTextFile(join(dir, "event_log.csv")).catch(() => "(none)"));
Deno.exit(status.code);
