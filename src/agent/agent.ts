/**
 * The agent: turns session changes into journaled events, delivers them, watches the server's
 * health and reloads config.ini when it changes. Platform-neutral: the service host (Windows) or
 * the foreground runner (POSIX) drives it through {@link Agent.start}, {@link Agent.listen},
 * {@link Agent.reload} and {@link Agent.stop}.
 *
 * The agent only orchestrates; each concern is its own part: {@link ConfigSource} (config.ini in
 * force), {@link ConfigWatcher}, {@link ServerConnection} (the transport), {@link SessionRecorder}
 * (session changes to events), {@link JournalOpener} (event_log.csv, opened later when the first
 * start's disk refuses it), {@link UnsavedEvents} (ordered writes to event_log.csv and the events
 * the disk refused), {@link Delivery}, {@link HealthMonitor}, {@link ServerWatch} (the conditions
 * written to the system's event log), {@link PeriodicTasks} (IP refreshes, the watch) and
 * {@link StatusReporter} (status.json).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { type Clock, systemClock } from "../clock.ts";
import { configProblems } from "../config/config.ts";
import { ConfigSource, describeSettings } from "../config/source.ts";
import { ConfigWatcher } from "../config/watcher.ts";
import { ServerConnection } from "../net/connection.ts";
import { Delivery, SHUTDOWN_GRACE_MS } from "../delivery/delivery.ts";
import { HostInfo, type HostProbe } from "../net/host_info.ts";
import type { Journal } from "../journal/journal.ts";
import { AgentLogs, type Level } from "../log/log.ts";
import type { Platform, SessionSource, StartOptions, SystemEventLog } from "../platform.ts";
import { type AgentStatus, type InstanceLock } from "../status/status.ts";
import { buildStatus, StatusReporter } from "../status/reporter.ts";
import type { JournalSetAside } from "../log/app_event_log.ts";
import { SystemEvents } from "../log/system_events.ts";
import { HealthMonitor } from "./health_monitor.ts";
import { JournalOpener } from "./journal_opener.ts";
import { PeriodicTasks } from "./periodic.ts";
import { ServerWatch, WATCH_INTERVAL_MS } from "./server_watch.ts";
import { SessionRecorder } from "./session_recorder.ts";
import { lockFolder } from "./startup.ts";
import { UnsavedEvents } from "./unsaved_events.ts";

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
  /** The recording of session changes: {@link SessionRecorder.record} records one. */
  readonly sessions: SessionRecorder;
  /** The server's health checks. */
  readonly health: HealthMonitor;
  #options: AgentOptions;
  #dir: string;
  #clock: Clock;
  #logs: AgentLogs;
  #source: ConfigSource;
  #host: HostInfo;
  #connection: ServerConnection;
  #unsaved: UnsavedEvents;
  #status: StatusReporter;
  #tasks: PeriodicTasks;
  #events: SystemEvents;
  #watch: ServerWatch;
  #watcher: ConfigWatcher | undefined;
  #journal: Journal | undefined;
  #opener: JournalOpener | undefined;
  #delivery: Delivery | undefined;
  #lock: InstanceLock | undefined;
  #sessionSource: string | undefined;
  #state: AgentStatus["state"] = "starting";
  #startedAt: number;
  #background = new Set<Promise<unknown>>();

  constructor(options: AgentOptions) {
    this.#options = options;
    const dir = this.#dir = dirname(options.configPath);
    const clock = this.#clock = options.clock ?? systemClock;
    this.#startedAt = clock.wallNow();
    const { log } = this;
    const track = this.#track;
    this.#source = new ConfigSource(options.configPath, {
      installDir: options.platform.defaultInstallDir(),
      secureFile: options.platform.secureFile,
      log,
      redact: (secret) => this.#logs.redactor.add(secret),
    });
    const config = this.#source.config;
    this.#logs = new AgentLogs(dir, {
      timeZone: config.timeZone,
      debug: false,
      sessionLogBytes: config.sessionLogRotationBytes,
      errorLogBytes: config.errorLogRotationBytes,
      echo: options.echo,
    });
    this.#events = new SystemEvents({
      log: options.eventLog,
      logLine: log,
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
    this.#host = new HostInfo({ probe: options.probe, clock, log });
    this.#connection = new ServerConnection(log);
    this.#status = new StatusReporter({ dir, clock, log, status: () => this.status() });
    this.#unsaved = new UnsavedEvents({
      dir,
      clock,
      log,
      sink: () => this.#journal,
      onSaved: () => {
        this.#events.journalSaved();
        this.#delivery?.kick();
        this.#status.soon();
      },
      onChange: () => this.#status.soon(),
      onRefused: (error, held) =>
        this.#events.journalRefused({ path: join(dir, "event_log.csv"), error, held }),
    });
    this.#tasks = new PeriodicTasks(clock);
    this.sessions = new SessionRecorder({
      dir,
      clock,
      log,
      track,
      settings: () => this.#source.config,
      host: this.#host,
      unsaved: this.#unsaved,
      secure: options.platform.secureFile,
      recorded: () => this.#delivery?.kick(),
    });
    this.health = new HealthMonitor({
      clock,
      log,
      track,
      settings: this.#source,
      transport: () => this.#connection.transport(),
      onResult: (result) => {
        this.#watch.health(result);
        if (result.ok) this.#delivery?.resume();
        this.#status.soon();
      },
    });
  }

  /** Writes a line to the agent's logs (bound). */
  log = (level: Level, message: string): void => {
    this.#logs.log(level, message);
  };

  /**
   * Opens the folder, config.ini and the journal, then starts health checks and delivery.
   * A broken config.ini does not stop the start: events are recorded and nothing is sent until
   * it is fixed. Rejects only when the journal cannot be opened.
   */
  async start(options: StartOptions = {}): Promise<void> {
    try {
      await this.#open(options);
    } catch (error) {
      this.sessions.failed();
      this.#events.startFailed(error);
      throw error;
    }
    this.#state = "running";
    this.sessions.started();
    await this.#status.write();
    this.log("info", "Agent ready: recording session events");
    const { serverUrl } = this.#source.config;
    this.#events.started({ version: this.#options.version, serverUrl, installDir: this.#dir });
    if (!options.deferNetwork) await this.online();
  }

  /**
   * Records the changes of `source` (see {@link SessionRecorder.listen}); `description` says in
   * status.json where they come from.
   */
  listen(source: SessionSource, description?: string): void {
    this.sessions.listen(source);
    if (description) this.sessionSource = description;
  }

  /** Says in status.json where session changes come from, or why none are recorded. */
  set sessionSource(description: string) {
    this.#sessionSource = description;
    if (this.#state !== "starting") this.#status.soon(); // the start writes it anyway
  }

  /**
   * The network part of the start: the route to the server (the IPv4 events carry) and the
   * first health check. Called by `start` unless it was asked to defer it (the Windows service
   * host calls it once RUNNING is reported).
   */
  async online(): Promise<void> {
    await this.#refreshIp();
    this.health.checkSoon("start");
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
    await this.health.check("config change");
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
      configPath: this.#options.configPath,
      config: this.#source.config,
      configError: this.#source.error,
      delivery: this.#delivery?.state(),
      lastHealth: this.health.last,
      pending: this.#journal?.pendingCount ?? 0,
      unsaved: this.#unsaved.count,
      sessionSource: this.#sessionSource,
    }, this.#clock.wallNow());
  }

  /**
   * The machine shuts down: records a Logoff at this time for every user still logged on
   * (`logoff_at_shutdown`), without waiting for delivery, then stops.
   */
  async shutdown(): Promise<void> {
    await this.stop({ shutdown: true });
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
    await this.sessions.close(options);
    this.#tasks.stop();
    this.health.stop();
    this.#opener?.close();
    await this.#watcher?.close();
    // At shutdown Windows allows seconds: the request in flight gets a short moment (else its
    // event stays pending and goes after the restart), background lookups less.
    await this.#delivery?.stop(options.shutdown ? SHUTDOWN_GRACE_MS : undefined);
    this.#connection.close();
    await this.#unsaved.close();
    await this.sessions.finish();
    const background = Promise.allSettled([...this.#background]);
    await (options.shutdown ? Promise.race([background, this.#clock.sleep(500)]) : background);
    const pending = this.#journal?.pendingCount ?? 0;
    await this.#journal?.close();
    this.#state = "stopped";
    await this.#status.close();
    const unsaved = this.#unsaved.count;
    this.log(
      "info",
      `Agent stopped; ${pending} events wait in event_log.csv` +
        (unsaved ? `; ${unsaved} events could not be saved` : ""),
    );
    if (started) this.#events.stopped({ pending });
    this.#logs.close();
    this.#lock?.release();
  }

  /** Keeps a background task for the stop to wait for; its failure is logged. */
  #track = (promise: Promise<unknown>): void => {
    const tracked = promise.catch((error) => {
      this.log("error", `Unexpected: ${(error as Error).stack ?? error}`);
    }).finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  };

  async #open(options: StartOptions): Promise<void> {
    const platform = this.#options.platform;
    this.#lock = await lockFolder(this.#dir, {
      secureDirectory: (dir, options) => platform.secureDirectory(dir, options),
      describeOpenAccess: platform.describeOpenAccess?.bind(platform),
      installDir: platform.defaultInstallDir(),
      log: this.log,
    });
    await this.#source.read({ create: true });
    this.log(
      "info",
      `User Session Monitor Agent ${this.#options.version} starting (pid ${Deno.pid}, config ${this.#options.configPath})`,
    );
    this.#opener = new JournalOpener({
      dir: this.#dir,
      clock: this.#clock,
      log: this.log,
      rotationSizeBytes: () => this.#source.config.eventLogRotationBytes,
      onSetAside: (details) => this.journalSetAside(details),
      reader: () => this.#state === "starting" ? this.sessions.reader() : undefined,
      onOpen: (journal) => this.#journalOpened(journal),
      onRefused: (error) => {
        const path = this.#opener!.path;
        this.#events.journalRefused({ path, error, held: this.#unsaved.count });
        this.#status.soon();
      },
    });
    this.#applyConfig();
    if (!await this.#opener.open()) await this.sessions.load(this.#opener.path);
    if (this.#options.watchConfig !== false) {
      // The poll reports a write of config.ini itself (its identity, size or time changed),
      // never other activity in the folder: each is a config change and runs a health check,
      // even when the writes it merged left the text as applied (--debug true, then false).
      this.#watcher = new ConfigWatcher(this.#options.configPath, {
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

  /**
   * The journal is open (at the start, or later after the first start's disk refused it):
   * delivery starts and the events held meanwhile are written.
   */
  async #journalOpened(journal: Journal): Promise<void> {
    if (this.#state === "stopping" || this.#state === "stopped") return await journal.close();
    this.#journal = journal;
    this.#delivery = this.#newDelivery(journal);
    this.#configureDelivery();
    this.log("info", `event_log.csv holds ${journal.pendingCount} events not yet sent`);
    if (this.#state === "starting") await this.sessions.load(journal.path);
    this.#unsaved.writeNow();
    this.#status.soon();
  }

  #newDelivery(journal: Journal): Delivery {
    return new Delivery({
      journal,
      transport: () => this.#connection.transport(),
      apiKey: () => this.#source.config.apiKey,
      publicIp: () => this.#source.config.obtainPublicIp ? this.#host.publicIp : undefined,
      log: this.log,
      clock: this.#clock,
      healthy: () => this.health.healthy,
      probe: () => this.health.checkSoon("probe while sending is paused"),
      onStateChange: (state) => {
        const { serverUrl } = this.#source.config;
        this.#events.deliveryChanged(state, { serverUrl, pending: journal.pendingCount });
        this.#watch.delivery(state);
        this.#status.soon();
      },
    });
  }

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
    this.health.every(config.healthCheckIntervalMs);
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
    this.#events.configChecked(problems);
    this.#status.soon();
  }

  /** Delivery's rate budget, and its pause while config.ini is incomplete. */
  #configureDelivery(): void {
    const config = this.#source.config;
    this.#delivery?.setRateBudget(config.serverRateLimit);
    if (!this.#source.loaded || configProblems(config).length > 0) {
      this.#delivery?.pause("not-configured");
    }
  }

  async #refreshIp(): Promise<void> {
    await this.#host.refresh(this.#source.config.serverUrl);
  }
}
