/**
 * The agent: turns session changes into journaled events, delivers them, checks the server's
 * health at start, on a timer and after every config change, and reloads config.ini when it
 * changes. Platform-neutral: the service host (Windows) or the foreground runner (POSIX) drives it
 * through {@link Agent.start}, {@link Agent.record}, {@link Agent.reload} and {@link Agent.stop}.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { type Config, ConfigError, configProblems, loadConfig, maskSecret } from "./config.ts";
import { Delivery, type DeliveryState } from "./delivery.ts";
import { eventTypeOf, formatTimestamp, type SessionEvent, UNKNOWN_USER } from "./event.ts";
import { HostInfo, type HostProbe } from "./host_info.ts";
import { Journal } from "./journal.ts";
import { AgentLogs, type Level } from "./log.ts";
import type { Platform, SessionChange } from "./platform.ts";
import { type AgentStatus, type HealthResult, InstanceLock, writeStatus } from "./status.ts";
import { Transport } from "./transport.ts";
import { checkHealth } from "./health.ts";
import { describeInterval } from "./config.ts";

/** The server's column limits for the values the agent captures (REFERENCE.md §1). */
export const COLUMN_LIMITS = { userName: 50, computerName: 50 } as const;

/** How often the primary IPv4 address is re-resolved. */
const IP_REFRESH_MS = 5 * 60_000;
/** How often the public IP is looked up again when obtain_public_ip is on. */
const PUBLIC_IP_REFRESH_MS = 15 * 60_000;
/** How often events that could not be written to event_log.csv are tried again. */
const UNSAVED_RETRY_MS = 5_000;
/** A config.ini change is read this long after the last file event (editors write in bursts). */
const RELOAD_DEBOUNCE_MS = 300;

/**
 * Why the agent could not start, with the service-specific exit code the Windows service reports
 * (1 another agent runs with the folder, 2 the folder cannot be created or secured, 3 the journal
 * cannot be opened; README, "Service controls and exit codes").
 */
export class StartError extends Error {
  override name = "StartError";
  readonly serviceExitCode: number;

  constructor(message: string, serviceExitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.serviceExitCode = serviceExitCode;
  }
}

/** Options of {@link Agent}. */
export interface AgentOptions {
  /** The config.ini in use; the agent's other files live beside it. */
  configPath: string;
  platform: Pick<Platform, "secureDirectory" | "secureFile" | "defaultInstallDir">;
  version: string;
  /** Also print log lines here (the console, in foreground mode). */
  echo?: (line: string) => void;
  /** Replaces the system probes (tests). */
  probe?: HostProbe;
  /** Watch config.ini for changes (default true). */
  watchConfig?: boolean;
}

/** Settings used while config.ini has never been readable. */
function fallbackConfig(installDir: string): Config {
  return {
    apiKey: "",
    serverUrl: "",
    debugLogs: false,
    timeZone: "UTC",
    installDir,
    healthCheckIntervalMs: 30 * 60_000,
    healthCheckPath: "/api/health",
    obtainPublicIp: false,
    publicIpUrls: [],
    tlsCaFile: "",
    tlsServerSha256: "",
    tlsInsecure: false,
    sessionLogRotationBytes: 5 * 1024 * 1024,
    errorLogRotationBytes: 5 * 1024 * 1024,
    eventLogRotationBytes: 5 * 1024 * 1024,
  };
}

function clip(value: string, limit: number): string {
  return value.length > limit ? value.slice(0, limit) : value;
}

/** The agent. */
export class Agent {
  readonly dir: string;
  readonly configPath: string;
  #options: AgentOptions;
  #logs: AgentLogs;
  #host: HostInfo;
  #config: Config;
  #configLoaded = false;
  #configText: string | undefined;
  #configError: string | undefined;
  #journal: Journal | undefined;
  #delivery: Delivery | undefined;
  #transport: Transport | undefined;
  #caPem: string | undefined;
  /** The settings the transport was made for. */
  #connection: string | undefined;
  #unsaved: SessionEvent[] = [];
  #unsavedTimer: ReturnType<typeof setTimeout> | undefined;
  #healthTimer: ReturnType<typeof setTimeout> | undefined;
  #ipTimer: ReturnType<typeof setTimeout> | undefined;
  #publicIpTimer: ReturnType<typeof setTimeout> | undefined;
  #reloadTimer: ReturnType<typeof setTimeout> | undefined;
  #watcher: Deno.FsWatcher | undefined;
  #watching: Promise<void> | undefined;
  #lastHealth: HealthResult | undefined;
  #healthRunning: Promise<HealthResult> | undefined;
  #state: AgentStatus["state"] = "starting";
  #startedAt = Date.now();
  #statusTimer: ReturnType<typeof setTimeout> | undefined;
  #statusWriting: Promise<unknown> = Promise.resolve();
  #background = new Set<Promise<unknown>>();
  #appendChain: Promise<void> = Promise.resolve();
  #lock: InstanceLock | undefined;

  constructor(options: AgentOptions) {
    this.#options = options;
    this.configPath = options.configPath;
    this.dir = dirname(options.configPath);
    this.#config = fallbackConfig(options.platform.defaultInstallDir());
    this.#logs = new AgentLogs(this.dir, {
      timeZone: this.#config.timeZone,
      debug: false,
      sessionLogBytes: this.#config.sessionLogRotationBytes,
      errorLogBytes: this.#config.errorLogRotationBytes,
      echo: options.echo,
    });
    this.#host = new HostInfo({ probe: options.probe, log: this.log });
  }

  /** Writes a line to the agent's logs (bound). */
  log = (level: Level, message: string): void => {
    this.#logs.log(level, message);
  };

  /** The settings in force (the last good config.ini, or the defaults). */
  get config(): Readonly<Config> {
    return this.#config;
  }

  /**
   * Opens the folder, config.ini and the journal, then starts health checks and delivery.
   * A broken config.ini does not stop the start: events are recorded and nothing is sent until
   * it is fixed. Rejects only when the journal cannot be opened.
   */
  async start(): Promise<void> {
    let opened!: () => void;
    this.#appendChain = new Promise((resolve) => opened = resolve);
    try {
      await this.#open();
    } finally {
      opened();
    }
    this.#state = "running";
    await this.#writeStatus();
    this.log("info", "Agent ready: recording session events");
    this.#track(this.healthCheck("start"));
  }

  async #open(): Promise<void> {
    try {
      await Deno.mkdir(this.dir, { recursive: true });
      await this.#options.platform.secureDirectory(this.dir);
      this.#lock = InstanceLock.acquire(this.dir);
    } catch (error) {
      throw new StartError(
        `Cannot create or secure the agent's folder ${this.dir}: ${
          (error as Error).message
        }; run as Administrator (Windows) or give the folder to the agent's user`,
        2,
        { cause: error },
      );
    }
    if (!this.#lock) {
      throw new StartError(
        `Another agent is already running with ${this.dir}: stop it first (two agents would write one event_log.csv)`,
        1,
      );
    }
    await this.#readConfig({ create: true });
    this.log(
      "info",
      `User Session Monitor Agent ${this.#options.version} starting (pid ${Deno.pid}, config ${this.configPath})`,
    );
    const eventLog = join(this.dir, "event_log.csv");
    try {
      this.#journal = await Journal.open(eventLog, {
        rotationSizeBytes: this.#config.eventLogRotationBytes,
        onWarning: (message) => this.log("warn", message),
      });
    } catch (error) {
      throw new StartError(
        `Cannot open ${eventLog}: ${
          (error as Error).message
        }; move the file aside if it is not an event log of this agent`,
        3,
        { cause: error },
      );
    }
    this.#delivery = new Delivery({
      journal: this.#journal,
      transport: () => this.#currentTransport(),
      apiKey: () => this.#config.apiKey,
      publicIp: () => this.#config.obtainPublicIp ? this.#host.publicIp : undefined,
      log: this.log,
      onStateChange: () => this.#statusSoon(),
    });
    this.#applyConfig();
    this.log("info", `event_log.csv holds ${this.#journal.pendingCount} events not yet sent`);
    if (this.#options.watchConfig !== false) this.#watchConfig();
    this.#ipTimer = setInterval(() => this.#track(this.#refreshIp()), IP_REFRESH_MS);
    await this.#refreshIp();
  }

  /**
   * Records one session change: the event is captured with the values that will be sent (user,
   * computer, primary IPv4, time of the change in the configured zone), written to event_log.csv
   * and flushed, then handed to delivery. Resolves once the event is on disk, or held in memory
   * when the disk refuses it (it is written as soon as the disk allows).
   */
  record(change: SessionChange): Promise<void> {
    const event: SessionEvent = {
      eventType: eventTypeOf(change.type),
      userName: clip(change.user.trim() || UNKNOWN_USER, COLUMN_LIMITS.userName),
      computerName: clip(this.#host.computerName, COLUMN_LIMITS.computerName),
      ipAddress: this.#host.ipv4,
      timestamp: formatTimestamp(change.at, this.#config.timeZone),
    };
    const who = change.domain ? `${change.domain}\\${change.user}` : change.user || UNKNOWN_USER;
    const run = this.#appendChain.then(async () => {
      if (this.#unsaved.length > 0 || !this.#journal) {
        this.#unsaved.push(event);
        this.log(
          "warn",
          `${event.eventType} of ${who} held in memory: event_log.csv is not writable`,
        );
        return;
      }
      try {
        await this.#journal.append(event);
      } catch (error) {
        this.#unsaved.push(event);
        this.#unsavedFailed(error as Error);
        return;
      }
      this.log(
        "info",
        `${event.eventType} of ${who} (session ${change.session}) at ${event.timestamp} recorded`,
      );
      this.#delivery!.kick();
    });
    this.#appendChain = run.catch(() => {});
    return run;
  }

  /** Rereads config.ini and runs a health check (service reload control, file change, flags). */
  async reload(reason = "config.ini changed"): Promise<void> {
    if (this.#state !== "running") return;
    const before = this.#configText;
    await this.#readConfig({ create: false });
    if (this.#configText === before && !this.#configError) {
      // Already applied (the file watcher and the service's reload control both report one
      // change): only the health check is asked for.
      this.log("debug", `Reload (${reason}): config.ini is unchanged`);
    } else {
      this.log("info", `Reloading: ${reason}`);
      this.#applyConfig();
      this.#track(this.#refreshIp());
    }
    await this.healthCheck("config change");
  }

  /**
   * Asks the server's health endpoint whether it is up and accepts the API key. A pass sends
   * the pending events. Concurrent calls share one check.
   */
  healthCheck(reason: string): Promise<HealthResult> {
    this.#healthRunning ??= this.#runHealthCheck(reason).finally(() => {
      this.#healthRunning = undefined;
    });
    return this.#healthRunning;
  }

  /** What status.json would say now. */
  status(): AgentStatus {
    const delivery: DeliveryState | undefined = this.#delivery?.state();
    return {
      version: this.#options.version,
      pid: Deno.pid,
      state: this.#state,
      startedAt: this.#startedAt,
      updatedAt: Date.now(),
      configPath: this.configPath,
      serverUrl: this.#config.serverUrl,
      configError: this.#configError,
      paused: this.#pausedReason(delivery),
      healthCheckInterval: describeInterval(this.#config.healthCheckIntervalMs),
      lastHealthCheck: this.#lastHealth,
      lastError: delivery?.lastError,
      lastSentAt: delivery?.lastSentAt,
      nextAttemptAt: delivery?.nextAttemptAt,
      sent: delivery?.sent ?? 0,
      rejected: delivery?.rejected ?? 0,
      pending: this.#journal?.pendingCount ?? 0,
      unsaved: this.#unsaved.length,
    };
  }

  /**
   * Stops: no new work, the request and write in progress finish, pending events stay in
   * event_log.csv for the next start. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#state === "stopping" || this.#state === "stopped") return;
    this.#state = "stopping";
    this.log("info", "Agent stopping");
    for (const timer of [this.#healthTimer, this.#ipTimer, this.#publicIpTimer]) {
      clearInterval(timer);
    }
    clearTimeout(this.#reloadTimer);
    clearTimeout(this.#unsavedTimer);
    clearTimeout(this.#statusTimer);
    try {
      this.#watcher?.close();
    } catch { /* already closed */ }
    await this.#watching;
    await this.#delivery?.stop();
    this.#transport?.close();
    await this.#appendChain;
    if (this.#unsaved.length > 0) await this.#writeUnsaved();
    await Promise.allSettled([...this.#background]);
    const pending = this.#journal?.pendingCount ?? 0;
    await this.#journal?.close();
    this.#state = "stopped";
    await this.#statusWriting;
    await this.#writeStatus();
    this.log(
      "info",
      `Agent stopped; ${pending} events wait in event_log.csv` +
        (this.#unsaved.length ? `; ${this.#unsaved.length} events could not be saved` : ""),
    );
    this.#logs.close();
    this.#lock?.release();
  }

  // ---- config ----

  async #readConfig(options: { create: boolean }): Promise<void> {
    const installDir = this.#options.platform.defaultInstallDir();
    try {
      const { config, warnings, created } = await loadConfig(this.configPath, {
        installDir,
        create: options.create,
        secureFile: this.#options.platform.secureFile,
      });
      this.#configText = await Deno.readTextFile(this.configPath);
      if (created) {
        this.log("info", `Created ${this.configPath} with the default settings`);
      }
      this.#config = config;
      this.#configLoaded = true;
      this.#logs.redactor.add(config.apiKey);
      this.#configError = undefined;
      for (const warning of warnings) this.log("warn", warning);
    } catch (error) {
      const message = error instanceof ConfigError || error instanceof Deno.errors.NotFound
        ? (error as Error).message
        : `Cannot read ${this.configPath}: ${(error as Error).message}`;
      this.#configError = message;
      this.#configText = undefined;
      this.log(
        "error",
        this.#configLoaded
          ? `${message}; still using the settings read before (fix the file and save it again)`
          : `${message}; events are recorded but nothing is sent until config.ini is fixed`,
      );
    }
  }

  #applyConfig(): void {
    const config = this.#config;
    this.#logs.configure({
      timeZone: config.timeZone,
      debug: config.debugLogs,
      sessionLogBytes: config.sessionLogRotationBytes,
      errorLogBytes: config.errorLogRotationBytes,
    });
    // A new connection only when where or how to connect changed: closing the transport fails
    // the request in flight.
    const connection = JSON.stringify([
      config.serverUrl,
      config.tlsCaFile,
      config.tlsServerSha256,
      config.tlsInsecure,
    ]);
    if (connection !== this.#connection) {
      this.#connection = connection;
      this.#transport?.close();
      this.#transport = undefined;
      this.#caPem = undefined;
      if (config.tlsCaFile) {
        try {
          this.#caPem = Deno.readTextFileSync(config.tlsCaFile);
        } catch (error) {
          this.log(
            "error",
            `Cannot read tls_ca_file ${config.tlsCaFile}: ${
              (error as Error).message
            }; using the default roots until config.ini is saved again with a readable file`,
          );
        }
      }
    }
    if (config.tlsInsecure) {
      this.log(
        "warn",
        "tls_insecure = true: the server's certificate is NOT checked; anyone on the network path can read the API key. Pin the certificate instead: winagentUSM.exe --pin-server-cert",
      );
    }
    clearInterval(this.#healthTimer);
    this.#healthTimer = undefined;
    if (config.healthCheckIntervalMs > 0) {
      this.#healthTimer = setInterval(
        () => this.#track(this.healthCheck("interval")),
        config.healthCheckIntervalMs,
      );
    }
    clearInterval(this.#publicIpTimer);
    this.#publicIpTimer = undefined;
    if (config.obtainPublicIp && config.publicIpUrls.length > 0) {
      const lookup = () => this.#track(this.#host.refreshPublicIp(config.publicIpUrls));
      this.#publicIpTimer = setInterval(lookup, PUBLIC_IP_REFRESH_MS);
      lookup();
    } else {
      this.#host.clearPublicIp();
    }
    const problems = this.#configError ? [this.#configError] : configProblems(config);
    const tls = config.tlsServerSha256
      ? `pinned certificate ${config.tlsServerSha256.slice(0, 16)}…`
      : config.tlsInsecure
      ? "certificate NOT checked"
      : config.tlsCaFile
      ? `CA ${config.tlsCaFile}`
      : "system roots";
    this.log(
      "info",
      `Settings: server ${config.serverUrl || "(not set)"} (${tls}), API key ${
        maskSecret(config.apiKey)
      }, time zone ${config.timeZone}, health checks ${
        describeInterval(config.healthCheckIntervalMs)
      } at ${config.healthCheckPath}, public IP ${config.obtainPublicIp ? "on" : "off"}`,
    );
    if (problems.length > 0 && this.#configLoaded && !this.#configError) {
      this.log("error", `Nothing is sent until config.ini is completed: ${problems.join("; ")}`);
    }
    if (!this.#configLoaded || configProblems(config).length > 0) {
      this.#delivery?.pause("not-configured");
    }
    this.#statusSoon();
  }

  #currentTransport(): Transport {
    if (!this.#transport) {
      const config = this.#config;
      this.#transport = new Transport(config.serverUrl, {
        caPem: this.#caPem,
        pinSha256: config.tlsServerSha256 || undefined,
        insecure: config.tlsInsecure,
      });
    }
    return this.#transport;
  }

  #watchConfig(): void {
    try {
      this.#watcher = Deno.watchFs(this.dir, { recursive: false });
    } catch (error) {
      this.log("warn", `Cannot watch ${this.dir} for config changes: ${(error as Error).message}`);
      return;
    }
    const name = this.configPath.split(/[\\/]/).pop()!;
    this.#watching = (async () => {
      try {
        for await (const event of this.#watcher!) {
          if (!event.paths.some((p) => p.split(/[\\/]/).pop() === name)) continue;
          clearTimeout(this.#reloadTimer);
          this.#reloadTimer = setTimeout(() => {
            this.#track(this.#reloadIfChanged());
          }, RELOAD_DEBOUNCE_MS);
        }
      } catch (error) {
        if (this.#state === "running") {
          this.log("warn", `Stopped watching config.ini: ${(error as Error).message}`);
        }
      }
    })();
  }

  async #reloadIfChanged(): Promise<void> {
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(this.configPath);
    } catch {
      text = undefined;
    }
    if (text !== undefined && text === this.#configText && !this.#configError) return;
    await this.reload("config.ini changed on disk");
  }

  // ---- health ----

  async #runHealthCheck(reason: string): Promise<HealthResult> {
    const config = this.#config;
    const problems = this.#configError ? [this.#configError] : configProblems(config);
    let result: HealthResult;
    if (!this.#configLoaded || problems.length > 0) {
      result = { at: Date.now(), ok: false, message: `Not configured: ${problems.join("; ")}` };
    } else {
      result = await checkHealth(config, this.#currentTransport());
    }
    this.#lastHealth = result;
    if (result.ok) {
      this.log("info", `Health check (${reason}) passed: ${result.message}`);
      this.#delivery?.resume();
    } else {
      this.log("warn", `Health check (${reason}) failed: ${result.message}`);
    }
    this.#statusSoon();
    return result;
  }

  // ---- host facts ----

  async #refreshIp(): Promise<void> {
    await this.#host.refresh(this.#config.serverUrl);
  }

  // ---- events that could not be written ----

  #unsavedFailed(error: Error): void {
    this.log(
      "error",
      `Cannot write event_log.csv in ${this.dir}: ${error.message}; ${this.#unsaved.length} events held in memory and written as soon as the disk allows (free disk space or fix permissions)`,
    );
    clearTimeout(this.#unsavedTimer);
    if (this.#state === "running") {
      this.#unsavedTimer = setTimeout(() => {
        this.#appendChain = this.#appendChain.then(() => this.#writeUnsaved()).catch(() => {});
      }, UNSAVED_RETRY_MS);
    }
    this.#statusSoon();
  }

  async #writeUnsaved(): Promise<void> {
    while (this.#unsaved.length > 0) {
      try {
        await this.#journal!.append(this.#unsaved[0]);
      } catch (error) {
        this.#unsavedFailed(error as Error);
        return;
      }
      this.#unsaved.shift();
    }
    this.log("info", "Events held in memory are now in event_log.csv");
    this.#delivery?.kick();
    this.#statusSoon();
  }

  // ---- status ----

  #pausedReason(delivery: DeliveryState | undefined): string | undefined {
    if (this.#configError) return `config.ini cannot be used: ${this.#configError}`;
    switch (delivery?.paused) {
      case "not-configured":
        return `not configured: ${configProblems(this.#config).join("; ")}`;
      case "unauthorized":
        return `the server rejected the API key ${maskSecret(this.#config.apiKey)}`;
      case "misconfigured":
        return `the server does not know the event endpoint: check server_url`;
      default:
        return undefined;
    }
  }

  #statusSoon(): void {
    if (this.#statusTimer !== undefined || this.#state === "stopped") return;
    this.#statusTimer = setTimeout(() => {
      this.#statusTimer = undefined;
      this.#track(this.#writeStatus());
    }, 200);
  }

  #writeStatus(): Promise<unknown> {
    this.#statusWriting = this.#statusWriting.then(async () => {
      const error = await writeStatus(this.dir, this.status());
      if (error) this.log("debug", `Cannot write status.json: ${error.message}`);
    });
    return this.#statusWriting;
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error) => {
      this.log("error", `Unexpected: ${(error as Error).stack ?? error}`);
    }).finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }
}
