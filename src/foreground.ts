/**
 * Running the agent in the foreground until the console asks it to stop: the POSIX platform's
 * `--service run`, and the Windows service host's fallback when the service manager did not
 * start it. Platform-neutral: it uses Deno's signal listeners only.
 *
 * @module
 */
import { systemClock } from "./clock.ts";
import type { ServiceHooks } from "./platform.ts";
import { errorText } from "./text.ts";

/**
 * The signals that stop a foreground agent: Ctrl+C everywhere, then SIGTERM or Ctrl+Break, and
 * on POSIX every other signal that would end the process and can be caught, so that none ends
 * it without its stop sequence. SIGHUP reloads config.ini instead (the daemon convention).
 */
function stopSignals(): Deno.Signal[] {
  return Deno.build.os === "windows" ? ["SIGINT", "SIGBREAK"] : [
    "SIGINT",
    "SIGTERM",
    "SIGQUIT",
    "SIGUSR1",
    "SIGUSR2",
    "SIGALRM",
    "SIGVTALRM",
    "SIGPROF",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
    "SIGTRAP",
  ];
}

/** Listens to `signal`; false when the runtime does not let it be caught here. */
function listen(signal: Deno.Signal, listener: () => void): boolean {
  try {
    Deno.addSignalListener(signal, listener);
    return true;
  } catch {
    return false;
  }
}

/** How long a stop asked for by a signal may take before the process ends anyway. */
export const FOREGROUND_STOP_GRACE_MS = 20_000;

/**
 * Runs the agent in the foreground until SIGINT or SIGTERM (Windows: Ctrl+C or Ctrl+Break),
 * then stops it cleanly. Returns 0 after a clean stop, 1 when the agent could not start or its
 * stop did not finish within {@link FOREGROUND_STOP_GRACE_MS}.
 */
export async function runInForeground(hooks: ServiceHooks): Promise<number> {
  const { promise: stopped, resolve: stop } = Promise.withResolvers<string>();
  const listeners: [Deno.Signal, () => void][] = [];
  for (const signal of stopSignals()) {
    const listener = () => stop(signal);
    if (listen(signal, listener)) listeners.push([signal, listener]);
  }
  let started = false;
  const reload = () => {
    if (!started) return;
    hooks.log("info", "SIGHUP received: reloading config.ini");
    hooks.reload().catch((error) => hooks.log("error", `Reload failed: ${errorText(error)}`));
  };
  if (Deno.build.os !== "windows" && listen("SIGHUP", reload)) listeners.push(["SIGHUP", reload]);
  try {
    try {
      await hooks.start();
      started = true;
    } catch (error) {
      hooks.log("error", `The agent could not start: ${errorText(error)}`);
      return 1;
    }
    const signal = await stopped;
    hooks.log("info", `${signal} received`);
    // A stop that hangs (a blocked write, a stuck runtime call) must not keep the process:
    // after the grace period the process ends anyway; pending events stay in event_log.csv.
    const grace = new AbortController();
    const finished = await Promise.race([
      hooks.stop().then(() => true),
      systemClock.sleep(FOREGROUND_STOP_GRACE_MS, grace.signal).then(() => false),
    ]);
    grace.abort();
    if (!finished) {
      hooks.log(
        "error",
        `The agent did not stop within ${
          FOREGROUND_STOP_GRACE_MS / 1000
        } s of ${signal}: exiting anyway; events not yet sent stay in event_log.csv`,
      );
      return 1;
    }
    return 0;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}
