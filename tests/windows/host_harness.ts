/**
 * A service program for the Windows tests: hosts fake ServiceHooks in the real ServiceHost and
 * appends every hook call as a JSON line to the file given by `--out`, so a test can follow the
 * service from outside. `--fail-start <code>` makes start() throw an error carrying that
 * service-specific exit code; `--slow-start <ms>` makes it take that long;
 * `--change-during-start <wts>:<session>` makes it call the service's HandlerEx with that session
 * change first (as the service manager would during START_PENDING). The test controls
 * are registered (test_controls.ts).
 *
 *   deno.exe run -A tests/windows/host_harness.ts --out C:\x\hooks.jsonl [--name Svc] [--fail-start 3]
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { ServiceHooks } from "../../src/platform.ts";
import { ServiceHost } from "../../src/windows/svc/service_host.ts";
import { WtsSessionSource } from "../../src/windows/svc/session_source.ts";
import { registerTestControls, synthesizeSessionChange } from "./test_controls.ts";

registerTestControls();

const { values } = parseArgs({
  args: Deno.args,
  options: {
    out: { type: "string" },
    name: { type: "string" },
    "fail-start": { type: "string" },
    "slow-start": { type: "string" },
    "change-during-start": { type: "string" },
  },
});
if (!values.out) throw new TypeError("Missing --out <file>");
const out = values.out;

function record(entry: Record<string, unknown>): void {
  Deno.writeTextFileSync(
    out,
    JSON.stringify({ ...entry, ms: performance.now(), wall: Date.now() }) + "\n",
    {
      append: true,
    },
  );
}

// The session source, listened to as the start begins; like the agent, the harness holds the
// changes that arrive during the start until the start is done.
const sessions = new WtsSessionSource({ log: (level, message) => hooks.log(level, message) });
const started = Promise.withResolvers<void>();

const hooks: ServiceHooks = {
  async start(options) {
    record({ hook: "start", deferNetwork: options?.deferNetwork ?? false });
    void sessions.run(async (change) => {
      await started.promise;
      record({ hook: "sessionChange", ...change, at: change.at.toString() });
    });
    if (values["change-during-start"]) {
      // A session change while the agent starts, through the service's own HandlerEx.
      const [wts, session] = values["change-during-start"].split(":").map(Number);
      synthesizeSessionChange(host.handlerEx!, wts, session);
      record({ hook: "changeSent" });
    }
    if (values["slow-start"]) {
      await new Promise((resolve) => setTimeout(resolve, Number(values["slow-start"])));
      options?.progress?.("slow start done");
      record({ hook: "startDone" });
    }
    if (values["fail-start"]) {
      return Promise.reject(
        Object.assign(new Error("harness start failure"), {
          serviceExitCode: Number(values["fail-start"]),
        }),
      );
    }
    started.resolve();
    return Promise.resolve();
  },
  online() {
    record({ hook: "online" });
    return Promise.resolve();
  },
  stop() {
    sessions.close();
    record({ hook: "stop" });
    return Promise.resolve();
  },
  shutdown() {
    sessions.close();
    record({ hook: "shutdown" });
    return Promise.resolve();
  },
  reload() {
    record({ hook: "reload" });
    return Promise.resolve();
  },
  log(level, message) {
    record({ hook: "log", level, message });
  },
};

const host = new ServiceHost(hooks, { serviceName: values.name, sessions: () => sessions });
const code = await host.run();
record({ hook: "exit", code, timings: host.timings });
Deno.exit(code);
