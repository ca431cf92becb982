/**
 * Running the agent in the foreground until the console asks it to stop: the POSIX platform's
 * `--service run`, and the Windows service host's fallback when the service manager did not
 * start it. Platform-neutral: it uses Deno's signal listeners only.
 *
 * @module
 */
import type { ServiceHooks } from "./platform.ts";
import { errorText } from "./text.ts";

/** The signals that stop a foreground agent: Ctrl+C everywhere, then SIGTERM or Ctrl+Break. */
function stopSignals(): Deno.Signal[] {
  return Deno.build.os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM"];
}

/**
 * Runs the agent in the foreground until SIGINT or SIGTERM (Windows: Ctrl+C or Ctrl+Break),
 * then stops it cleanly. Returns 0 after a clean stop, 1 when the agent could not start.
 */
export async function runInForeground(hooks: ServiceHooks): Promise<number> {
  const { promise: stopped, resolve: stop } = Promise.withResolvers<string>();
  const listeners = stopSignals().map((signal) => {
    const listener = () => stop(signal);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  try {
    try {
      await hooks.start();
    } catch (error) {
      hooks.log("error", `The agent could not start: ${errorText(error)}`);
      return 1;
    }
    const signal = await stopped;
    hooks.log("info", `${signal} received`);
    await hooks.stop();
    return 0;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}
