/**
 * The small interfaces the platform-neutral core depends on. The core never imports `ffi/`:
 * the Windows implementations live in `src/windows/` and are loaded by `mod.ts` only when
 * `Deno.build.os === "windows"`; `src/posix.ts` implements them for Linux and macOS.
 *
 * @module
 */

/** The four session changes the agent reports, as the core names them. */
export type SessionChangeType = "logon" | "logoff" | "lock" | "unlock";

/**
 * A session's client went away ("disconnect": Remote Desktop client closed, fast user switching
 * away) or came back ("reconnect"). The server knows no such event: the core reports it per the
 * `disconnect_events` policy (src/sessions/sessions.ts) as Lock/Unlock, Logoff/Logon or not at all.
 */
export type ConnectionChangeType = "disconnect" | "reconnect";

/** One session change, as a session source hands it to the agent. */
export interface SessionChange {
  type: SessionChangeType | ConnectionChangeType;
  /** The user of the session; "" when it could not be resolved (the core substitutes a marker). */
  user: string;
  /** The user's domain, for the local log only (never sent). */
  domain?: string;
  /** The session id (Windows: the WTS session id). */
  session: number;
  /** When the change happened: taken when the notification arrived, not when it is processed. */
  at: Temporal.Instant;
  /** For a disconnect or reconnect: a Remote Desktop client rather than the console. */
  remote?: boolean;
}

/** A change of one of the four types the server knows, as the core records it. */
export interface ReportedChange extends SessionChange {
  type: SessionChangeType;
}

/**
 * A user session present when the agent starts (Windows: `WTSEnumerateSessionsW`, then
 * `WTSQuerySessionInformationW` with WTSSessionInfo / WTSSessionInfoEx for each; the simulated
 * source: its `present` lines). Sessions without a user (session 0, the logon screen) are left out.
 */
export interface PresentSession {
  session: number;
  user: string;
  domain?: string;
  /** "active": someone works in it; "disconnected": the client went away, the logon goes on. */
  state: "active" | "disconnected";
  /** When the user logged on, where the platform reports it. */
  logonAt?: Temporal.Instant;
  /** When a client last connected to the session, where the platform reports it. */
  connectedAt?: Temporal.Instant;
  /** Whether the session is locked, only where the platform reports it reliably. */
  locked?: boolean;
  /** A Remote Desktop session rather than the console. */
  remote?: boolean;
}

/** Receives the changes of a session source; resolves once the change is on disk. */
export type SessionSink = (change: SessionChange) => Promise<void>;

/**
 * A producer of session changes: the platform's (Windows: the service's HandlerEx; Linux:
 * systemd-logind; see {@link Platform.sessionSource}), or the simulated source that reads JSON
 * Lines (`--simulate`).
 * The agent asks for `presentSessions` and calls `run` right after, as its start begins: changes
 * that arrive during the start wait in the agent until its journal is open, and the snapshot is
 * recorded once it has started, while the changes keep flowing. A source that has a snapshot to
 * give delivers no change before it has read it.
 */
export interface SessionSource {
  /** Starts delivering changes to `sink`; resolves when the source has no more input. */
  run(sink: SessionSink): Promise<void>;
  /** Stops delivering; idempotent. */
  close(): void;
  /**
   * The user sessions present now (asked once when the agent starts); absent, or resolving to
   * undefined, where unknown (then nothing is inferred at start).
   */
  presentSessions?(): Promise<PresentSession[] | undefined>;
  /** Where the changes come from, for status.json ("systemd-logind"); absent: not said. */
  readonly description?: string;
}

/** Where the platform's own messages go (the agent's logs). */
export type PlatformLog = (level: "debug" | "info" | "warn" | "error", message: string) => void;

/** Options of {@link Platform.sessionSource}. */
export interface SessionSourceOptions {
  log: PlatformLog;
  /**
   * The machine shuts down and the source learnt it first (logind's PrepareForShutdown):
   * resolves once the shutdown's events are journaled and the agent stopped. A platform whose
   * service host is told of the shutdown itself (Windows) does not call it.
   */
  onShutdown: () => Promise<void>;
}

/** The service actions of `--service`. */
export type ServiceAction = "install" | "start" | "stop" | "restart" | "remove" | "run";

/** What `--status` can learn about the service from the platform's service manager. */
export interface ServiceState {
  /** e.g. "RUNNING", "STOPPED", "not installed". */
  state: string;
  pid?: number;
}

/** Options for the service actions handled by the platform. */
export interface ServiceActionOptions {
  /** `--config <path>`: at install, the config.ini to import. */
  configPath?: string;
  /**
   * At install: config flags (`--url`, `--api-key`, `--install-dir`...), applied over the import;
   * keyed by config.ini key (`ConfigKey`).
   */
  settings?: Partial<Record<string, string>>;
  /** `--purge`: at remove, also delete config.ini, the journal and the logs. */
  purge?: boolean;
  /** Where messages for the administrator go (stdout of the command). */
  print: (line: string) => void;
}

/** Options of `ServiceHooks.start`. */
export interface StartOptions {
  /** Resolve once the journal is open; leave the network to `ServiceHooks.online`. */
  deferNetwork?: boolean;
  /** Called at each real step of the start. */
  progress?: (step: string) => void;
}

/** What the core hands the platform's service host for `--service run`. */
export interface ServiceHooks {
  /**
   * Starts the agent (journal, config, health check, delivery). Rejects when it cannot start.
   * With `deferNetwork` (the Windows service host) it resolves once config.ini is read and the
   * journal is open, without touching the network: the route probe, the health check and
   * delivery wait for {@link ServiceHooks.online}, which the host calls once RUNNING is
   * reported. `progress` is called at each real step of the start (the host reports a new
   * checkpoint).
   */
  start(options?: StartOptions): Promise<void>;
  /** The network part of the start, when `start` was asked to defer it (see there). */
  online?(): Promise<void>;
  /** Stops the agent: finishes the write in progress, leaves pending events on disk. */
  stop(): Promise<void>;
  /**
   * The machine shuts down (Windows: SERVICE_CONTROL_PRESHUTDOWN, or SHUTDOWN where preshutdown
   * was not delivered): journal every held change and what shutdown means for open sessions,
   * without waiting for delivery, then stop. Must finish well within the preshutdown budget.
   */
  shutdown(): Promise<void>;
  /** config.ini changed (service control or file change): reread it and run a health check. */
  reload(): Promise<void>;
  /** The agent's log, for the host's own messages. */
  log: PlatformLog;
}

/** Options of `Platform.secureDirectory` and `Platform.secureFile`. */
export interface SecureOptions {
  /**
   * Create the folder when it is missing (default true). Windows creates it with its final
   * descriptor in the same call; the core passes false where it must not create a folder.
   */
  create?: boolean;
  /**
   * Where the administrator is told what was done to a folder or file that was not trusted
   * (Windows: owned by someone other than SYSTEM, Administrators or TrustedInstaller: a folder
   * is moved aside and made afresh, a file's owner and permissions are reset).
   */
  report?: (line: string) => void;
}

/**
 * The operating-system side of the agent. The Windows implementation is built on `ffi/`; the
 * POSIX one on Deno built-ins.
 */
export interface Platform {
  /** "windows", "linux", ... */
  readonly name: string;
  /** The folder that holds config.ini, event_log.csv, error.log and session_monitor.log. */
  defaultInstallDir(): string;
  /**
   * Restricts a folder (and what is later created in it) to the service account and the
   * administrators: Windows a protected DACL for SYSTEM and Administrators, POSIX mode 0700.
   */
  secureDirectory(path: string, options?: SecureOptions): Promise<void>;
  /** Restricts one file likewise (Windows: owner and protected DACL; POSIX: mode 0600). */
  secureFile(path: string, options?: SecureOptions): Promise<void>;
  /**
   * Who besides the owner, the service account and the administrators can create, replace or
   * delete files in the folder `path`, as a message says it ("group and others (mode 0777)"), or
   * undefined when nobody. The core asks it for a folder it uses but did not create and that is
   * not the install folder: it never changes that folder's permissions, and warns instead.
   * Windows: read the folder's DACL for write or add-file rights of Everyone, Users, Authenticated
   * Users and the like. Optional: a platform without it gives no warning.
   */
  describeOpenAccess?(path: string): Promise<string | undefined>;
  /**
   * `--service install|start|stop|restart|remove`. Returns the process exit code. Platforms
   * without a service manager throw an Error that says the action is only on Windows.
   */
  serviceAction(
    action: Exclude<ServiceAction, "run">,
    options: ServiceActionOptions,
  ): Promise<number>;
  /** The service's state from the service manager, or undefined where there is none. */
  serviceState(): Promise<ServiceState | undefined>;
  /**
   * Tells a running agent that config.ini changed (Windows: the user-defined service control).
   * Returns false when no running agent could be told (it will still see the file change).
   */
  notifyReload(): Promise<boolean>;
  /**
   * `--service run`: hosts the agent until it is told to stop. Windows: under the service
   * manager when started by it (STOP/SHUTDOWN/INTERROGATE/SESSIONCHANGE and the reload control),
   * otherwise in the console until Ctrl+C. POSIX: in the foreground until SIGINT or SIGTERM.
   * Returns the process exit code.
   */
  runService(hooks: ServiceHooks): Promise<number>;
  /**
   * The platform's session source for `--service run` (Windows: SERVICE_CONTROL_SESSIONCHANGE
   * and the Terminal Services enumeration; Linux: systemd-logind), asked once as the agent's
   * start begins; absent where the platform reports no sessions. Rejects when it cannot be had
   * (no logind in a container): the agent then records nothing and says why. `--simulate`
   * replaces it.
   */
  sessionSource?(options: SessionSourceOptions): Promise<SessionSource>;
  /**
   * The system's event log for the agent's entries (Windows: the Application log through the
   * source UserSessionMonService), or undefined where there is none or it cannot be opened.
   * The caller closes it.
   */
  systemEventLog?(): SystemEventLog | undefined;
}

/** The Event Log's levels (ReportEventW types: error 1, warning 2, information 4). */
export type EventLevel = "information" | "warning" | "error";

/**
 * Where entries go: the Windows Application log, or memory (tests). The agent writes through
 * `reportTo` (src/log/system_events.ts), which catches a failed write: it is never the agent's
 * failure.
 */
export interface SystemEventLog {
  /** Writes one entry; throws when the log refuses it (the Event Log service is stopped...). */
  report(id: number, level: EventLevel, text: string): void;
  /** Releases the log; idempotent. */
  close?(): void;
}
