/**
 * The agent: turns session changes into journaled events, delivers them, checks the server's
 * health at start, on a timer and after every config change, and reloads config.ini when it
 * changes. Platform-neutral: the service host (Windows) or the foreground runner (POSIX) drives it
 * through {@link Agent.start}, {@link Agent.record}, {@link Agent.reload} and {@link Agent.stop}.
 *
 * The agent only orchestrates; each concern is its own part: {@link ConfigSource} (config.ini in
 * force), {@link ConfigWatcher}, {@link ServerConnection} (the transport), {@link HeldEvents}
 * (ordered writes to event_log.csv and the events the disk refused), {@link Delivery},
 * {@link PeriodicTasks} (health interval, IP refreshes) and {@link StatusReporter} (status.json).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { captureEvent, describeUser } from "../sessions/capture.ts";
import { type Clock, systemClock } from "../clock.ts";
import { type Config, configProblems } from "../config/config.ts";
import { ConfigSource, describeSettings } from "../config/source.ts";
import { ConfigWatcher } from "../config/watcher.ts";
import { ServerConnection } from "../net/connection.ts";
import { Delivery, SHUTDOWN_GRACE_MS } from "../delivery/delivery.ts";
import { checkHealth, type HealthResult } from "../delivery/health.ts";
import { HeldEvents } from "./held_events.ts";
import { HostInfo, type HostProbe } from "../net/host_info.ts";
import type { Journal } from "../journal/journal.ts";
import { AgentLogs, type Level } from "../log/log.ts";
import { PeriodicTasks } from "./periodic.ts";
import type {
  Platform,
  PresentSession,
  ReportedChange,
  SessionChange,
  StartOptions,
  SystemEventLog,
} from "../platform.ts";
import { SessionTracker } from "../sessions/tracker.ts";
import { lockFolder } from "./startup.ts";
import { JournalOpener } from "./journal_opener.ts";
import { type AgentStatus, type InstanceLock } from "../status/status.ts";
import { buildStatus, StatusReporter } from "../status/reporter.ts";
import type { JournalSetAside } from "../log/event_log.ts";
import { SystemEvents } from "../log/system_events.ts";
import { ServerWatch, WATCH_INTERVAL_MS } from "./server_watch.ts";

export { StartError } from "../exit_codes.ts";

/** How often the primary IPv4 address is re-resolved. */
const IP_REFRESH_MS = 5 * 60_000;
/** How often the public IP is looked up again when obtain_public_ip is on. */
const PUBLIC_IP_REFRESH_MS = 15 * 60_000;

/** Options of {@link Agent}. */
export interface AgentOptions {
  /** The config.ini in use; the agent's other files live beside it. */
  configPath: string;
  platform: Pick<
    Platform,
    "secureDirectory" | "secureFile" | "defaultInstallDir" | "describeOpenAccess"
  >;
  version: string;
  /** Also print log lines here (the console, in foreground mode). */
  echo?: (line: string) => void;
  /** Replaces the system probes (tests). */
  probe?: HostProbe;
  /** Watch config.ini for changes (default true). */
  watchConfig?: boolean;
  /** Time for every wait, timer and timestamp of the agent (default {@link systemClock}). */
  clock?: Clock;
  /** The system's event log (Windows: the Application log); none by default. */
  eventLog?: SystemEventLog;
}

/** The agent. */
export class Agent {
  readonly dir: string;
  readonly configPath: string;
  #options: AgentOptions;
  #clock: Clock;
  #logs: AgentLogs;
  #source: ConfigSource;
  #host: HostInfo;
  #connection: ServerConnection;
  #held: HeldEvents;
  #status: StatusReporter;
  #tasks: PeriodicTasks;
  #events: SystemEvents;
  #watch: ServerWatch;
  #sessions: SessionTracker;
  #watcher: ConfigWatcher | undefined;
  #journal: Journal | undefined;
  #opener: JournalOpener | undefined;
  #delivery: Delivery | undefined;
  #lock: InstanceLock | undefined;
  #lastHealth: HealthResult | undefined;
  #sessionSource: string | undefined;
  #healthRunning: Promise<HealthResult> | undefined;
  #state: AgentStatus["state"] = "starting";
  #startedAt: number;
  #background = new Set<Promise<unknown>>();

  constructor(options: AgentOptions) {
    this.#options = options;
    this.configPath = options.configPath;
    this.dir = dirname(options.configPath);
    const clock = this.#clock = options.clock ?? systemClock;
    this.#startedAt = clock.wallNow();
    this.#source = new ConfigSource(options.configPath, {
      installDir: options.platform.defaultInstallDir(),
      secureFile: options.platform.secureFile,
      log: this.log,
      redact: (secret) => this.#logs.redactor.add(secret),
    });
    const config = this.#source.config;
    this.#logs = new AgentLogs(this.dir, {
      timeZone: config.timeZone,
      debug: false,
      sessionLogBytes: config.sessionLogRotationBytes,
      errorLogBytes: config.errorLogRotationBytes,
      echo: options.echo,
    });
    this.#events = new SystemEvents({
      log: options.eventLog,
      logLine: this.log,
      redact: (text) => this.#logs.redactor.apply(text),
    });
    this.#watch = new ServerWatch({
      clock,
      events: this.#events,
      serverUrl: () => this.#source.config.serverUrl,
      backlog: () => ({
        oldest: this.#journal?.oldestPending()?.event.timestamp,
        pending: this.#journal?.pendingCount ?? 0,
      }),
    });
    this.#host = new HostInfo({ probe: options.probe, clock, log: this.log });
    this.#connection = new ServerConnection(this.log);
    this.#status = new StatusReporter({
      dir: this.dir,
      clock,
      log: this.log,
      status: () => this.status(),
    });
    this.#held = new HeldEvents({
      dir: this.dir,
      clock,
      log: this.log,
      sink: () => this.#journal,
      onSaved: () => {
        this.#events.journalSaved();
        this.#delivery?.kick();
        this.#status.soon();
      },
      onChange: () => this.#status.soon(),
      onRefused: (error, held) =>
        this.#events.journalRefused({ path: join(this.dir, "event_log.csv"), error, held }),
    });
    this.#tasks = new PeriodicTasks(clock);
    this.#sessions = new SessionTracker({
      dir: this.dir,
      clock,
      log: this.log,
      settings: () => this.#source.config,
      secure: options.platform.secureFile,
    });
  }

  /** Writes a line to the agent's logs (bound). */
  log = (level: Level, message: string): void => {
    this.#logs.log(level, message);
  };

  /** The settings in force (the last good config.ini, or the defaults). */
  get config(): Readonly<Config> {
    return this.#source.config;
  }

  /**
   * Opens the folder, config.ini and the journal, then starts health checks and delivery.
   * A broken config.ini does not stop the start: events are recorded and nothing is sent until
   * it is fixed. Rejects only when the journal cannot be opened.
   */
  async start(options: StartOptions = {}): Promise<void> {
    const opening = this.#open(options);
    this.#held.waitFor(opening); // events recorded meanwhile are written once the journal is open
    try {
      await opening;
    } catch (error) {
      this.#events.startFailed(error);
      throw error;
    }
    this.#state = "running";
    await this.#status.write();
    this.log("info", "Agent ready: recording session events");
    const { serverUrl } = this.#source.config;
    this.#events.started({ version: this.#options.version, serverUrl, installDir: this.dir });
    if (!options.deferNetwork) await this.online();
  }

  /**
   * The network part of the start: the route to the server (the IPv4 events carry) and the
   * first health check. Called by `start` unless it was asked to defer it (the Windows service
   * host calls it once RUNNING is reported).
   */
  async online(): Promise<void> {
    await this.#refreshIp();
    this.#track(this.healthCheck("start"));
  }

  /**
   * Records one session change: the event is captured with the values that will be sent (user,
   * computer, primary IPv4, time of the change in the configured zone), written to event_log.csv
   * and flushed, then handed to delivery. Resolves once the event is on disk, or held in memory
   * when the disk refuses it (it is written as soon as the disk allows). A disconnect or
   * reconnect is recorded per `disconnect_events` (src/sessions/sessions.ts), or not at all.
   */
  record(change: SessionChange): Promise<void> {
    const reported = this.#sessions.translate(change);
    if (!reported) {
      const why = change.type === "logoff"
        ? "the user is still logged on in another session"
        : `disconnect_events = ${this.#source.config.disconnectEvents}`;
      this.log(
        "debug",
        `${change.type} of ${
          describeUser(change)
        } (session ${change.session}) not recorded (${why})`,
      );
      return Promise.resolve();
    }
    let how = reported.type === change.type
      ? ""
      : ` (a ${change.type}, disconnect_events = ${this.#source.config.disconnectEvents})`;
    // Inferred changes are placed when planned; a notification's change is placed here.
    const placed = this.#sessions.place(reported);
    if (placed !== reported) {
      how += ` (moved on from ${reported.at}: an event of this type and user is at that second)`;
    }
    return this.#record(placed, how);
  }

  /**
   * Records the events the sessions present now call for (`present`: the platform's snapshot,
   * asked for after {@link start}): Logons learnt late and Logoffs inferred for sessions gone,
   * each logged with why and from what. Then sessions.json is kept once a minute.
   */
  async sessionsPresent(present: readonly PresentSession[], since: number): Promise<void> {
    if (this.#state !== "running") return;
    for (const { change, reason } of this.#sessions.planStart(present, since)) {
      if (this.#state !== "running") return;
      await this.#record(change, ` (${reason})`);
    }
    this.#sessions.keepAlive();
  }

  /**
   * The wall clock moved forward by `ms` at once (a simulated run's clock line): the minute
   * write of sessions.json that would have fallen in between is made now.
   */
  clockAdvanced(ms: number): Promise<void> {
    return ms >= 60_000 ? this.#sessions.refresh() : Promise.resolve();
  }

  /** Says in status.json where session changes come from, or why none are recorded. */
  set sessionSource(description: string) {
    this.#sessionSource = description;
    this.#status.soon();
  }

  /** The open-sessions view's generation: pass it to {@link sessionsPresent}. */
  get sessionsGeneration(): number {
    return this.#sessions.generation;
  }

  /**
   * The machine shuts down: records a Logoff at this time for every user still logged on
   * (`logoff_at_shutdown`), without waiting for delivery, then stops.
   */
  async shutdown(): Promise<void> {
    if (this.#state === "running") {
      for (const { change, reason } of this.#sessions.planShutdown()) {
        await this.#record(change, ` (${reason})`);
      }
    }
    await this.stop({ shutdown: true });
  }

  #record(change: ReportedChange, how: string): Promise<void> {
    const event = captureEvent(change, this.#host, this.#source.config.timeZone);
    this.#sessions.noted(event, change.session);
    const who = describeUser(change);
    // Session 0 is no user's (Windows' services session): an inferred event's session is unknown.
    const session = change.session === 0 ? "" : ` (session ${change.session})`;
    return this.#held.append(event, who, () => {
      this.log(
        "info",
        `${event.eventType} of ${who}${session} at ${event.timestamp} recorded${how}`,
      );
      this.#delivery!.kick();
    });
  }

  /** Rereads config.ini and runs a health check (service reload control, file change, flags). */
  async reload(reason = "config.ini changed"): Promise<void> {
    if (this.#state !== "running") return;
    if (await this.#source.read({ create: false })) {
      this.log("info", `Reloading: ${reason}`);
      this.#applyConfig();
      this.#track(this.#refreshIp());
    } else {
      // Already applied (the file watcher and the service's reload control both report one
      // change): only the health check is asked for.
      this.log("debug", `Reload (${reason}): config.ini is unchanged`);
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

  /**
   * The journal set an unreadable event_log.csv aside and started a new one (the journal's own
   * warning says so in error.log): written to the system's event log (301).
   */
  journalSetAside(details: JournalSetAside): void {
    this.#events.journalSetAside(details);
  }

  /** What status.json would say now. */
  status(): AgentStatus {
    return buildStatus({
      version: this.#options.version,
      state: this.#state,
      startedAt: this.#startedAt,
      configPath: this.configPath,
      config: this.#source.config,
      configError: this.#source.error,
      delivery: this.#delivery?.state(),
      lastHealth: this.#lastHealth,
      pending: this.#journal?.pendingCount ?? 0,
      unsaved: this.#held.count,
      sessionSource: this.#sessionSource,
    }, this.#clock.wallNow());
  }

  /**
   * Stops: no new work, the request and write in progress finish, pending events stay in
   * event_log.csv for the next start. Idempotent.
   */
  async stop(options: { shutdown?: boolean } = {}): Promise<void> {
    if (this.#state === "stopping" || this.#state === "stopped") return;
    const started = this.#state === "running";
    this.#state = "stopping";
    this.log("info", "Agent stopping");
    this.#tasks.stop();
    this.#opener?.close();
    await this.#watcher?.close();
    // At shutdown Windows allows seconds: the request in flight gets a short moment (else its
    // event stays pending and goes after the restart), background lookups less.
    await this.#delivery?.stop(options.shutdown ? SHUTDOWN_GRACE_MS : undefined);
    this.#connection.close();
    await this.#held.close();
    await this.#sessions.close();
    const background = Promise.allSettled([...this.#background]);
    await (options.shutdown ? Promise.race([background, this.#clock.sleep(500)]) : background);
    const pending = this.#journal?.pendingCount ?? 0;
    await this.#journal?.close();
    this.#state = "stopped";
    await this.#status.close();
    this.log(
      "info",
      `Agent stopped; ${pending} events wait in event_log.csv` +
        (this.#held.count ? `; ${this.#held.count} events could not be saved` : ""),
    );
    if (started) this.#events.stopped({ pending });
    this.#logs.close();
    this.#lock?.release();
  }

  // ---- start ----

  async #open(options: StartOptions): Promise<void> {
    const platform = this.#options.platform;
    this.#lock = await lockFolder(this.dir, {
      secureDirectory: (dir, options) => platform.secureDirectory(dir, options),
      describeOpenAccess: platform.describeOpenAccess?.bind(platform),
      installDir: platform.defaultInstallDir(),
      log: this.log,
    });
    await this.#source.read({ create: true });
    this.log(
      "info",
      `User Session Monitor Agent ${this.#options.version} starting (pid ${Deno.pid}, config ${this.configPath})`,
    );
    this.#opener = new JournalOpener({
      dir: this.dir,
      clock: this.#clock,
      log: this.log,
      rotationSizeBytes: () => this.#source.config.eventLogRotationBytes,
      onSetAside: (details) => this.journalSetAside(details),
      onOpen: (journal) => this.#journalOpened(journal),
      onRefused: (error) => {
        this.#events.journalRefused({ path: this.#opener!.path, error, held: this.#held.count });
        this.#status.soon();
      },
    });
    this.#applyConfig();
    if (!await this.#opener.open()) await this.#sessions.load(this.#opener.path);
    if (this.#options.watchConfig !== false) {
      // The poll reports a write of config.ini itself (its identity, size or time changed),
      // never other activity in the folder: each is a config change and runs a health check,
      // even when the writes it merged left the text as applied (--debug true, then false).
      this.#watcher = new ConfigWatcher(this.configPath, {
        clock: this.#clock,
        log: this.log,
        onChange: () => this.#track(this.reload("config.ini changed on disk")),
      });
      this.#watcher.start();
    }
    options.progress?.("journal open");
    this.#tasks.every("ip", IP_REFRESH_MS, () => this.#track(this.#refreshIp()));
    this.#tasks.every("watch", WATCH_INTERVAL_MS, () => this.#watch.check());
  }

  /** The journal is open: delivery starts and the events held meanwhile are written. */
  async #journalOpened(journal: Journal): Promise<void> {
    if (this.#state === "stopping" || this.#state === "stopped") return await journal.close();
    this.#journal = journal;
    this.#delivery = new Delivery({
      journal,
      transport: () => this.#connection.transport(),
      apiKey: () => this.#source.config.apiKey,
      publicIp: () => this.#source.config.obtainPublicIp ? this.#host.publicIp : undefined,
      log: this.log,
      clock: this.#clock,
      healthy: () => this.#lastHealth?.ok === true,
      probe: () => this.#track(this.healthCheck("probe while sending is paused")),
      onStateChange: (state) => {
        const { serverUrl } = this.#source.config;
        const pending = this.#journal?.pendingCount ?? 0;
        this.#events.deliveryChanged(state, { serverUrl, pending });
        this.#watch.delivery(state);
        this.#status.soon();
      },
    });
    this.#configureDelivery();
    this.log("info", `event_log.csv holds ${journal.pendingCount} events not yet sent`);
    if (this.#state === "starting") await this.#sessions.load(journal.path);
    this.#held.writeNow();
    this.#status.soon();
  }

  // ---- config ----

  #applyConfig(): void {
    const config = this.#source.config;
    this.#logs.configure({
      timeZone: config.timeZone,
      debug: config.debugLogs,
      sessionLogBytes: config.sessionLogRotationBytes,
      errorLogBytes: config.errorLogRotationBytes,
    });
    this.#connection.configure(config);
    this.#configureDelivery();
    this.#tasks.every("health", config.healthCheckIntervalMs, () => {
      this.#track(this.healthCheck("interval"));
    });
    if (config.obtainPublicIp && config.publicIpUrls.length > 0) {
      const lookup = () => this.#track(this.#host.refreshPublicIp(config.publicIpUrls));
      this.#tasks.every("public IP", PUBLIC_IP_REFRESH_MS, lookup);
      lookup();
    } else {
      this.#tasks.cancel("public IP");
      this.#host.clearPublicIp();
    }
    this.log("info", describeSettings(config, { loaded: this.#source.loaded }));
    const problems = this.#source.problems();
    if (problems.length > 0 && this.#source.loaded && !this.#source.error) {
      this.log("error", `Nothing is sent until config.ini is completed: ${problems.join("; ")}`);
    }
    this.#events.configChecked(this.#source.problems());
    this.#status.soon();
  }

  #configureDelivery(): void {
    const config = this.#source.config;
    this.#delivery?.setRateBudget(config.serverRateLimit);
    if (!this.#source.loaded || configProblems(config).length > 0) {
      this.#delivery?.pause("not-configured");
    }
  }

  // ---- health and host facts ----

  async #runHealthCheck(reason: string): Promise<HealthResult> {
    const result: HealthResult = this.#source.usable()
      ? await checkHealth(this.#source.config, this.#connection.transport(), {
        clock: this.#clock,
      })
      : {
        at: this.#clock.wallNow(),
        ok: false,
        message: `Not configured: ${this.#source.problems().join("; ")}`,
      };
    this.#lastHealth = result;
    this.#watch.health(result);
    if (result.ok) {
      this.log("info", `Health check (${reason}) passed: ${result.message}`);
      this.#delivery?.resume();
    } else {
      this.log("warn", `Health check (${reason}) failed: ${result.message}`);
    }
    this.#status.soon();
    return result;
  }

  async #refreshIp(): Promise<void> {
    await this.#host.refresh(this.#source.config.serverUrl);
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error) => {
      this.log("error", `Unexpected: ${(error as Error).stack ?? error}`);
    }).finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }
}
