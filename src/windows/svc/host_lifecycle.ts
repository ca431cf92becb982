/**
 * The order of things in the Windows service host, without any system call (tested on Linux
 * with a manual clock): what the host reports to the service manager and when it calls the
 * agent's hooks.
 *
 * Start: the handler is registered and START_PENDING reported (checkpoint 1) with session
 * changes and preshutdown accepted. `hooks.start({ deferNetwork })` opens config.ini and the
 * journal without touching the network; each real step it reports is a new checkpoint (no
 * timer invents progress). Session changes do not pass through here: they go to the session
 * source the agent listens to. Once the start resolves: RUNNING, then `hooks.online()` (route
 * probe, health check, delivery). A start that fails
 * reports STOPPED with its service-specific exit code; one that outlasts the start cap reports
 * STOPPED with SERVICE_EXIT_CODES.startTimedOut.
 *
 * Stop and shutdown: STOP_PENDING; a start in progress is waited for; the work queued before
 * (going online, a reload) finishes first; then `hooks.stop()` (STOP) or `hooks.shutdown()`
 * (PRESHUTDOWN / SHUTDOWN: journal what is held, no waiting for delivery), each under its cap;
 * then STOPPED with exit code 0, also past the cap or after an error (logged): the stop was
 * asked for, and a failure code would trigger the service's failure actions (a restart).
 *
 * Reload (control 128): at most one per {@link RELOAD_INTERVAL_MS}; requests in between are
 * coalesced into one at the end of the interval (the last change of config.ini is never lost).
 *
 * @module
 */
import type { Clock, Timer } from "../../clock.ts";
import { SERVICE_EXIT_CODES, serviceExitCode } from "../../exit_codes.ts";
import type { ServiceHooks } from "../../platform.ts";
import { errorText } from "../../text.ts";
import type { HostState } from "./service_status.ts";

/** The longest start before the host gives up and reports STOPPED. */
export const START_CAP_MS = 60_000;
/** The longest stop. */
export const STOP_CAP_MS = 20_000;
/** The longest shutdown: well within the 15 s preshutdown timeout set at install. */
export const SHUTDOWN_CAP_MS = 12_000;
/** At most one reload (control 128) per this interval. */
export const RELOAD_INTERVAL_MS = 10_000;

/** What the host reports to the service manager. */
export type Reporter = (
  state: HostState,
  details: { checkPoint: number; exitCode: number },
) => void;

/** Options of {@link HostLifecycle}. */
export interface LifecycleOptions {
  hooks: ServiceHooks;
  report: Reporter;
  clock: Clock;
  /** Called once the service has started (RUNNING reported). */
  onRunning?: () => void;
  caps?: { startMs?: number; stopMs?: number; shutdownMs?: number };
  reloadIntervalMs?: number;
}

class TimedOut extends Error {}

/** The service host's state machine; see the module documentation. */
export class HostLifecycle {
  #options: LifecycleOptions;
  #hooks: ServiceHooks;
  #clock: Clock;
  #state: HostState = "start_pending";
  #checkPoint = 0;
  #chain: Promise<void> = Promise.resolve();
  #starting?: Promise<boolean>;
  #stopping = false;
  #finished = Promise.withResolvers<number>();
  #lastReload = -Infinity;
  #reloadTimer?: Timer;

  constructor(options: LifecycleOptions) {
    this.#options = options;
    this.#hooks = options.hooks;
    this.#clock = options.clock;
  }

  /** Resolves with the process exit code once STOPPED is reported. */
  get finished(): Promise<number> {
    return this.#finished.promise;
  }

  /** The state last reported. */
  get state(): HostState {
    return this.#state;
  }

  /** The handler is registered: START_PENDING, then the agent's start. */
  begin(): void {
    this.#report("start_pending");
    this.#starting = this.#start();
  }

  async #start(): Promise<boolean> {
    const cap = this.#options.caps?.startMs ?? START_CAP_MS;
    try {
      await this.#within(
        cap,
        this.#hooks.start({
          deferNetwork: true,
          progress: (step) => {
            this.#hooks.log("debug", `Service start: ${step}`);
            if (this.#state === "start_pending") this.#report("start_pending");
          },
        }),
      );
    } catch (error) {
      const timedOut = error instanceof TimedOut;
      const code = timedOut ? SERVICE_EXIT_CODES.startTimedOut : serviceExitCode(error);
      this.#hooks.log(
        "error",
        timedOut
          ? `The agent did not start within ${cap / 1000} s (service exit code ${code})`
          : `The agent could not start (service exit code ${code}): ${errorText(error)}`,
      );
      this.#finish(code);
      return false;
    }
    if (this.#stopping) return true; // the stop in progress reports the rest
    this.#report("running");
    this.#options.onRunning?.();
    if (this.#hooks.online) {
      const online = this.#hooks.online;
      this.#enqueue("going online", () => online());
    }
    return true;
  }

  /** Control 128: reread config.ini, at most once per interval. */
  reload(): void {
    if (this.#state !== "running" || this.#reloadTimer) return;
    const interval = this.#options.reloadIntervalMs ?? RELOAD_INTERVAL_MS;
    const wait = this.#lastReload + interval - this.#clock.monotonic();
    if (wait <= 0) {
      this.#runReload();
      return;
    }
    this.#hooks.log("debug", `Reload control: coalesced, runs in ${Math.ceil(wait)} ms`);
    this.#reloadTimer = this.#clock.after(wait, () => {
      this.#reloadTimer = undefined;
      if (this.#state === "running") this.#runReload();
    });
  }

  #runReload(): void {
    this.#lastReload = this.#clock.monotonic();
    this.#enqueue("reload", () => this.#hooks.reload());
  }

  /** SERVICE_CONTROL_STOP. */
  stop(): void {
    this.#end("STOP");
  }

  /** SERVICE_CONTROL_PRESHUTDOWN, or SHUTDOWN where preshutdown was not delivered. */
  shutdown(): void {
    this.#end("SHUTDOWN");
  }

  #end(reason: "STOP" | "SHUTDOWN"): void {
    if (this.#stopping || this.#state === "stopped") return;
    this.#stopping = true;
    this.#reloadTimer?.cancel();
    this.#reloadTimer = undefined;
    this.#report("stop_pending");
    const cap = reason === "STOP"
      ? this.#options.caps?.stopMs ?? STOP_CAP_MS
      : this.#options.caps?.shutdownMs ?? SHUTDOWN_CAP_MS;
    const deadline = this.#clock.monotonic() + cap;
    const remaining = () => Math.max(0, deadline - this.#clock.monotonic());
    (async () => {
      this.#hooks.log("info", `Service ${reason} received: stopping`);
      try {
        const started = await this.#within(remaining(), this.#starting ?? Promise.resolve(false));
        if (this.#state === "stopped") return; // the start failed and reported
        this.#report("stop_pending");
        await this.#within(remaining(), this.#chain); // work queued before goes first
        this.#report("stop_pending");
        if (started) {
          await this.#within(
            remaining(),
            reason === "STOP" ? this.#hooks.stop() : this.#hooks.shutdown(),
          );
        }
      } catch (error) {
        this.#hooks.log(
          "error",
          error instanceof TimedOut
            ? `The agent did not stop within ${cap / 1000} s: stopping anyway`
            : `The agent did not stop cleanly: ${errorText(error)}`,
        );
      }
      // Exit code 0 whatever happened: the stop was asked for, and a failure code would make
      // the failure actions restart the service (SERVICE_CONFIG_FAILURE_ACTIONS_FLAG).
      this.#finish(0);
    })();
  }

  #finish(code: number): void {
    if (this.#state === "stopped") return;
    this.#report("stopped", code);
    this.#finished.resolve(code);
  }

  #enqueue(what: string, task: () => Promise<void>): void {
    this.#chain = this.#chain.then(task).catch((error) => {
      this.#hooks.log("error", `Service ${what} failed: ${errorText(error)}`);
    });
  }

  /** `promise`, or a TimedOut rejection after `ms`. */
  #within<T>(ms: number, promise: Promise<T>): Promise<T> {
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#clock.after(ms, () => reject(new TimedOut(`Timed out after ${ms} ms`)));
    });
    return Promise.race([promise, timeout]).finally(() => timer?.cancel());
  }

  #report(state: HostState, exitCode = 0): void {
    const pending = state === "start_pending" || state === "stop_pending";
    this.#checkPoint = pending ? (this.#state === state ? this.#checkPoint + 1 : 1) : 0;
    this.#state = state;
    this.#options.report(state, { checkPoint: this.#checkPoint, exitCode });
  }
}
