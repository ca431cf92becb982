/**
 * Watches the folder of config.ini and reports a change of the file once its writes have
 * settled (editors write in bursts).
 *
 * @module
 */
import { dirname } from "node:path";
import type { Clock, Timer } from "./clock.ts";
import type { LogFn } from "./log.ts";

/** A config.ini change is reported this long after the last file event. */
export const RELOAD_DEBOUNCE_MS = 300;

/** Options of {@link ConfigWatcher}. */
export interface ConfigWatcherOptions {
  clock: Clock;
  log: LogFn;
  /** Called once the file's events have settled. */
  onChange: () => void;
  /** Quiet time before a change is reported (default {@link RELOAD_DEBOUNCE_MS}). */
  debounceMs?: number;
}

/** A watcher of one config.ini. */
export class ConfigWatcher {
  #path: string;
  #options: ConfigWatcherOptions;
  #watcher: Deno.FsWatcher | undefined;
  #watching: Promise<void> | undefined;
  #timer: Timer | undefined;
  #closed = false;

  constructor(path: string, options: ConfigWatcherOptions) {
    this.#path = path;
    this.#options = options;
  }

  /** Starts watching; a folder that cannot be watched is logged, not thrown. */
  start(): void {
    const dir = dirname(this.#path);
    try {
      this.#watcher = Deno.watchFs(dir, { recursive: false });
    } catch (error) {
      this.#options.log(
        "warn",
        `Cannot watch ${dir} for config changes: ${(error as Error).message}`,
      );
      return;
    }
    this.#watching = this.#watch(this.#watcher);
  }

  /** Stops watching; a change not yet reported is dropped. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    try {
      this.#watcher?.close();
    } catch { /* already closed */ }
    await this.#watching;
  }

  async #watch(watcher: Deno.FsWatcher): Promise<void> {
    const name = this.#path.split(/[\\/]/).pop()!;
    try {
      for await (const event of watcher) {
        if (this.#closed) break;
        if (!event.paths.some((p) => p.split(/[\\/]/).pop() === name)) continue;
        this.#timer?.cancel();
        this.#timer = this.#options.clock.after(
          this.#options.debounceMs ?? RELOAD_DEBOUNCE_MS,
          () => this.#options.onChange(),
        );
      }
    } catch (error) {
      if (!this.#closed) {
        this.#options.log("warn", `Stopped watching config.ini: ${(error as Error).message}`);
      }
    }
  }
}
