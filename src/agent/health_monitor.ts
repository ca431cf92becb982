/**
 * The server's health, as the agent watches it: a check at start, one every
 * `health_check_interval`, one after each config change and one when delivery asks while paused.
 * Concurrent requests share one check; a pass lets delivery resume, a failure is logged.
 *
 * @module
 */
import type { Clock, Timer } from "../clock.ts";
import type { ConfigSource } from "../config/source.ts";
import { checkHealth, type HealthResult } from "../delivery/health.ts";
import type { LogFn } from "../log/log.ts";
import type { Transport } from "../net/transport.ts";

/** Options of {@link HealthMonitor}. */
export interface HealthMonitorOptions {
  clock: Clock;
  log: LogFn;
  /** config.ini in force: the server, the API key, and whether it is complete. */
  settings: ConfigSource;
  transport: () => Transport;
  /** Each check's verdict, once logged (a pass resumes delivery). */
  onResult: (result: HealthResult) => void;
  /** Keeps a background check for the stop to wait for. */
  track: (task: Promise<unknown>) => void;
}

/** Checks the server's health; see the module documentation. */
export class HealthMonitor {
  #options: HealthMonitorOptions;
  #last: HealthResult | undefined;
  #running: Promise<HealthResult> | undefined;
  #timer: Timer | undefined;
  #stopped = false;

  constructor(options: HealthMonitorOptions) {
    this.#options = options;
  }

  /** The last check's result, if any. */
  get last(): HealthResult | undefined {
    return this.#last;
  }

  /** Whether the last check passed. */
  get healthy(): boolean {
    return this.#last?.ok === true;
  }

  /**
   * Asks the server's health endpoint whether it is up and accepts the API key. Concurrent
   * calls share one check.
   */
  check(reason: string): Promise<HealthResult> {
    this.#running ??= this.#run(reason).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Runs a check in the background (its failure is logged, never thrown). */
  checkSoon(reason: string): void {
    this.#options.track(this.check(reason));
  }

  /** Checks every `ms` from now on (`health_check_interval`), replacing the interval before. */
  every(ms: number): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (ms > 0 && !this.#stopped) {
      this.#timer = this.#options.clock.every(ms, () => this.checkSoon("interval"));
    }
  }

  /** No more interval checks. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  async #run(reason: string): Promise<HealthResult> {
    const { clock, log, settings } = this.#options;
    const result: HealthResult = settings.usable()
      ? await checkHealth(settings.config, this.#options.transport(), { clock })
      : {
        at: clock.wallNow(),
        ok: false,
        message: `Not configured: ${settings.problems().join("; ")}`,
      };
    this.#last = result;
    if (result.ok) log("info", `Health check (${reason}) passed: ${result.message}`);
    else log("warn", `Health check (${reason}) failed: ${result.message}`);
    this.#options.onResult(result);
    return result;
  }
}
