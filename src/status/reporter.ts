/**
 * The agent's status report: what status.json says (built from the agent's parts) and when it
 * is written (soon after a change, the changes of a moment coalesced into one write, and once
 * more at the stop).
 *
 * @module
 */
import type { Clock, Timer } from "../clock.ts";
import { type Config, configProblems, describeInterval } from "../config/config.ts";
import { maskSecret } from "../log/redact.ts";
import type { DeliveryState } from "../delivery/types.ts";
import type { LogFn } from "../log/log.ts";
import type { HealthResult } from "../delivery/health.ts";
import { type AgentStatus, writeStatus } from "./status.ts";
import { NotRegularFileError } from "../no_follow.ts";

/** Changes within this time after the first go into one write of status.json. */
export const STATUS_DELAY_MS = 200;

/** What the agent knows about itself, for status.json. */
export interface StatusFacts {
  version: string;
  state: AgentStatus["state"];
  /** Wall-clock epoch milliseconds. */
  startedAt: number;
  configPath: string;
  config: Readonly<Config>;
  configError: string | undefined;
  delivery: DeliveryState | undefined;
  lastHealth: HealthResult | undefined;
  pending: number;
  unsaved: number;
  sessionSource?: string;
}

/** The content of status.json for `facts`, as of the wall-clock time `now`. */
export function buildStatus(facts: StatusFacts, now: number): AgentStatus {
  const { config, delivery } = facts;
  return {
    version: facts.version,
    pid: Deno.pid,
    state: facts.state,
    startedAt: facts.startedAt,
    updatedAt: now,
    configPath: facts.configPath,
    serverUrl: config.serverUrl,
    configError: facts.configError,
    paused: pausedReason(facts),
    healthCheckInterval: describeInterval(config.healthCheckIntervalMs),
    lastHealthCheck: facts.lastHealth,
    lastError: delivery?.lastError,
    lastSentAt: delivery?.lastSentAt,
    failingSince: delivery?.failingSince,
    nextAttemptAt: delivery?.nextAttemptAt,
    sent: delivery?.sent ?? 0,
    rejected: delivery?.rejected ?? 0,
    pending: facts.pending,
    unsaved: facts.unsaved,
    sessionSource: facts.sessionSource,
    sending: delivery?.sending,
  };
}

/** Why nothing is sent, in words for `--status`; undefined while events are sent. */
function pausedReason(facts: StatusFacts): string | undefined {
  if (facts.configError) return `config.ini cannot be used: ${facts.configError}`;
  switch (facts.delivery?.paused) {
    case "not-configured":
      return `not configured: ${configProblems(facts.config).join("; ")}`;
    case "unauthorized":
      return `the server rejected the API key ${maskSecret(facts.config.apiKey)}`;
    case "misconfigured":
      return `the answers do not come from the server's event endpoint: check server_url (asked again with backoff)`;
    case "refusing":
      return `the server refuses different events alike or fails its health check: check server_url and the API key (asked again with backoff)`;
    default:
      return undefined;
  }
}

/** Options of {@link StatusReporter}. */
export interface StatusReporterOptions {
  /** The folder of status.json. */
  dir: string;
  clock: Clock;
  log: LogFn;
  /** The status as of now. */
  status: () => AgentStatus;
}

/** Writes status.json: soon after changes, one write at a time, and a last time at the stop. */
export class StatusReporter {
  #options: StatusReporterOptions;
  #timer: Timer | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: StatusReporterOptions) {
    this.#options = options;
  }

  /** Writes status.json shortly (once for all the changes of the next moments). */
  soon(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = this.#options.clock.after(STATUS_DELAY_MS, () => {
      this.#timer = undefined;
      void this.write();
    });
  }

  #refused: string | undefined;

  /** Writes status.json after the write in progress; a failure is logged (debug), not thrown. */
  write(): Promise<void> {
    this.#writing = this.#writing.then(async () => {
      const error = await writeStatus(this.#options.dir, this.#options.status());
      // A link planted as status.json is refused (never written through): said once as a warning.
      const refused = error instanceof NotRegularFileError && error.message !== this.#refused;
      if (error) {
        this.#options.log(refused ? "warn" : "debug", `Cannot write status.json: ${error.message}`);
      }
      this.#refused = error instanceof NotRegularFileError ? error.message : undefined;
    });
    return this.#writing;
  }

  /** Writes the last status.json once the writes in progress are done; later changes are not written. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#writing;
    await this.write();
  }
}
