/**
 * Notices a change of config.ini by polling it on the agent's clock: every few seconds the
 * file's identity (device and inode, so a file renamed over it counts), size and modification
 * time are compared with what was seen before. A change is reported once the file has stayed
 * the same for one whole interval (an editor's burst of writes is reported once, complete).
 *
 * Polling replaced `Deno.watchFs` on the folder: that woke the agent on every write of its own
 * journal and logs, and after file activity in the folder `FsWatcher.close()` blocked the
 * runtime, so a SIGTERM never completed. A poll is one `stat` of one file,
 * holds no resource between ticks, and stops at once.
 *
 * @module
 */
import type { Clock, Timer } from "../clock.ts";
import type { LogFn } from "../log/log.ts";
import { errorText } from "../text.ts";

/** How often config.ini is looked at. */
export const CONFIG_POLL_MS = 2_000;

/** Options of {@link ConfigWatcher}. */
export interface ConfigWatcherOptions {
  clock: Clock;
  log: LogFn;
  /** Called once a change of the file has settled. */
  onChange: () => void;
  /** Time between two looks (default {@link CONFIG_POLL_MS}). */
  pollMs?: number;
}

/** What one look at config.ini saw: identity, size and time, or why it could not be seen. */
async function look(path: string): Promise<string> {
  try {
    const info = await Deno.stat(path);
    return `${info.dev}:${info.ino}:${info.size}:${info.mtime?.getTime()}:${info.isFile}`;
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? "missing" : `error ${errorText(error)}`;
  }
}

/** A watcher of one config.ini. */
export class ConfigWatcher {
  #path: string;
  #options: ConfigWatcherOptions;
  #timer: Timer | undefined;
  #looking: Promise<void> | undefined;
  /** What the last reported (or first) look saw. */
  #reported: string | undefined;
  /** What the previous look saw. */
  #previous: string | undefined;
  #closed = false;

  constructor(path: string, options: ConfigWatcherOptions) {
    this.#path = path;
    this.#options = options;
  }

  /** Starts polling; the file as it is now is the baseline. */
  start(): void {
    this.#looking = look(this.#path).then((seen) => {
      this.#reported ??= seen;
      this.#previous ??= seen;
    }).finally(() => this.#looking = undefined);
    this.#timer = this.#options.clock.every(this.#options.pollMs ?? CONFIG_POLL_MS, () => {
      if (this.#closed || this.#looking !== undefined) return;
      this.#looking = this.#tick().finally(() => this.#looking = undefined);
    });
  }

  /** Resolves once the look in progress, if any, is done (and its change reported). */
  async looked(): Promise<void> {
    await this.#looking;
  }

  /** Stops polling; a change not yet reported is dropped. Idempotent; never blocks. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    await this.#looking;
  }

  async #tick(): Promise<void> {
    const seen = await look(this.#path);
    const settled = seen === this.#previous;
    this.#previous = seen;
    if (this.#closed || !settled || seen === this.#reported) return;
    this.#reported = seen;
    try {
      this.#options.onChange();
    } catch (error) {
      this.#options.log("warn", `Cannot reload config.ini after a change: ${errorText(error)}`);
    }
  }
}
