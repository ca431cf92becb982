/**
 * `--status`: what a person or a monitoring script learns about the agent of one config.ini,
 * read from the outside (another process): agent.lock (does an agent run?), status.json (what
 * the running agent last knew), config.ini and event_log.csv. `--pending` is in pending.ts.
 *
 * `--status` exits 0 only when an agent runs, its last health check passed, sending is not
 * paused, its last attempt to send did not fail, no event is held in memory and no event has
 * waited longer than `--max-backlog`; the other codes are `STATUS_EXIT_CODES` in
 * src/exit_codes.ts (docs/monitoring.md, "Status"). `--json` prints the same facts as one JSON
 * object whose field names are part of the interface ({@link StatusReport}).
 *
 * @module
 */
import { join } from "node:path";
import { systemClock } from "../clock.ts";
import { configProblems, describeDuration, loadConfig } from "../config/config.ts";
import { maskSecret } from "../log/redact.ts";
import { describeTls } from "../config/source.ts";
import { CLEAR_TEXT_WARNING, isClearText } from "../net/connection.ts";
import { readPending } from "./journal_facts.ts";
import type { Platform, ServiceState } from "../platform.ts";
import { agentRunning, type AgentStatus, statusOf } from "./status.ts";
import { errorText } from "../text.ts";
import { STATUS_EXIT_CODES } from "../exit_codes.ts";

/** What `--status` concludes. */
export type StatusVerdict = keyof typeof STATUS_EXIT_CODES;

/** Default of `--max-backlog`: an event that waits an hour is worth a look. */
export const DEFAULT_MAX_BACKLOG_MS = 60 * 60_000;

/** `--status --json`: every field is always present (null when unknown). */
export interface StatusReport {
  /** The exit code of `--status`. */
  exitCode: number;
  verdict: StatusVerdict;
  /** Every check that failed, in the order of the exit codes (empty when the verdict is ok). */
  failed: StatusVerdict[];
  /** The same, each in words. */
  problems: string[];
  /** From agent.lock and status.json. */
  agent: {
    running: boolean | null;
    state: AgentStatus["state"] | null;
    pid: number | null;
    version: string | null;
    startedAt: string | null;
    /** When status.json was last written. */
    updatedAt: string | null;
    /** Why status.json cannot be used (not a regular file, not JSON, a field of the wrong type). */
    statusError: string | null;
  };
  /** The computer's name, as events carry it. */
  computerName: string | null;
  /** The version of the winagentUSM.exe that answered (the running agent's is `agent.version`). */
  agentVersion: string | null;
  /** install_dir of config.ini (null when it cannot be read). */
  installDir: string | null;
  /** From the platform's service manager (Windows); null elsewhere. */
  service: { state: string; pid: number | null } | null;
  configPath: string;
  configError: string | null;
  serverUrl: string | null;
  /** Masked: first and last four characters. */
  apiKey: string | null;
  /** How the server's certificate is checked. */
  tls: string | null;
  healthCheckInterval: string | null;
  lastHealthCheck: { ok: boolean; at: string; httpStatus: number | null; message: string } | null;
  paused: string | null;
  lastError: { at: string; message: string } | null;
  lastSentAt: string | null;
  /** Since when the running agent's attempts to send fail; null when its last one did not. */
  deliveryFailingSince: string | null;
  /** Where the running agent's session changes come from, or why none are recorded. */
  sessionSource: string | null;
  events: {
    /** Rows in event_log.csv (null when it cannot be read). */
    total: number | null;
    pending: number | null;
    rejected: number | null;
    /** Events not yet in event_log.csv because it cannot be written. */
    heldInMemory: number;
    /** The time of the oldest event not yet sent, as recorded. */
    oldestPendingAt: string | null;
    oldestPendingAgeSeconds: number | null;
    /** The time of the newest event in event_log.csv, as recorded. */
    lastRecordedAt: string | null;
    /** The time, as recorded, of the newest event the server stored. */
    lastSentEventAt: string | null;
    /** Why event_log.csv cannot be read, or that its last line is torn. */
    journalNote: string | null;
  };
  /** The --max-backlog in force, in seconds (0: no limit). */
  maxBacklogSeconds: number;
}

/** Options of {@link statusReport}. */
export interface StatusOptions {
  platform: Pick<Platform, "defaultInstallDir" | "serviceState">;
  /** The version of this winagentUSM.exe. */
  version?: string;
  /** --max-backlog (default {@link DEFAULT_MAX_BACKLOG_MS}; 0: no limit). */
  maxBacklogMs?: number;
  /** The wall clock (default the system's). */
  now?: number;
}

const iso = (ms: number | undefined) => ms ? new Date(ms).toISOString() : null;

function computerName(): string | null {
  try {
    return Deno.hostname();
  } catch {
    return null;
  }
}

/** The problems of `report`'s facts, each with its verdict, in the order of the exit codes. */
function findProblems(report: StatusReport, maxBacklogMs: number): [StatusVerdict, string][] {
  const found: [StatusVerdict, string][] = [];
  const { agent, events } = report;
  if (agent.statusError) found.push(["unknown", agent.statusError]);
  if (agent.running === null) {
    found.push(["unknown", "cannot tell whether an agent runs: agent.lock cannot be opened"]);
  } else if (!agent.running) {
    found.push(["not-running", "no agent is running with this config.ini"]);
  }
  if (report.configError) found.push(["not-configured", report.configError]);
  if (agent.running && report.paused && !report.configError) {
    found.push(["paused", `sending is paused: ${report.paused}`]);
  }
  if (agent.running) {
    const health = report.lastHealthCheck;
    if (!health) found.push(["health-failed", "no health check has run yet"]);
    else if (!health.ok) {
      found.push(["health-failed", `the last health check failed: ${health.message}`]);
    }
  }
  if (events.heldInMemory > 0) {
    found.push([
      "held-in-memory",
      `${events.heldInMemory} events are held in memory: event_log.csv cannot be written`,
    ]);
  }
  const age = events.oldestPendingAgeSeconds;
  if (maxBacklogMs > 0 && age !== null && age * 1000 > maxBacklogMs) {
    found.push([
      "backlog",
      `the oldest event not yet sent (${events.oldestPendingAt}) has waited ${
        // Seconds under a minute (--max-backlog 10s), whole minutes above.
        describeDuration(
          age < 60 ? Math.round(age) * 1000 : Math.round(age / 60) * 60_000,
        )}, more than --max-backlog ${describeDuration(maxBacklogMs)}`,
    ]);
  }
  if (agent.running && report.deliveryFailingSince && !report.paused) {
    found.push([
      "delivery-failing",
      `the last attempt to send an event failed (failing since ${report.deliveryFailingSince})${
        report.lastError ? `: ${report.lastError.message}` : ""
      }`,
    ]);
  }
  const order = Object.keys(STATUS_EXIT_CODES);
  return found.sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
}

/** Everything `--status` reports about the agent of `configPath`. */
export async function statusReport(
  configPath: string,
  options: StatusOptions,
): Promise<StatusReport> {
  const dir = join(configPath, "..");
  const maxBacklogMs = options.maxBacklogMs ?? DEFAULT_MAX_BACKLOG_MS;
  const [status, statusError] = await statusOf(dir);
  const running = agentRunning(dir);
  const service = await options.platform.serviceState().catch(() => undefined);
  const report = reportFromStatus(status, {
    running,
    statusError,
    service,
    configPath,
    version: options.version,
    maxBacklogMs,
  });
  await addConfigFacts(report, configPath, options.platform);
  await addJournalFacts(report, dir, options.now ?? systemClock.wallNow());
  const problems = findProblems(report, maxBacklogMs);
  if (problems.length > 0) {
    report.verdict = problems[0][0];
    report.exitCode = STATUS_EXIT_CODES[report.verdict];
    report.failed = problems.map(([verdict]) => verdict);
    report.problems = problems.map(([, text]) => text);
  }
  return report;
}

/** The report as status.json and agent.lock tell it, before config.ini and the journal. */
function reportFromStatus(
  status: AgentStatus | undefined,
  facts: {
    running: boolean | undefined;
    /** Why status.json cannot be used. */
    statusError: string | null;
    service: ServiceState | undefined;
    configPath: string;
    /** The version of this winagentUSM.exe. */
    version: string | undefined;
    maxBacklogMs: number;
  },
): StatusReport {
  const { running, service } = facts;
  return {
    exitCode: 0,
    verdict: "ok",
    failed: [],
    problems: [],
    agent: {
      running: running ?? null,
      state: status?.state ?? null,
      pid: status?.pid ?? null,
      version: status?.version ?? null,
      startedAt: iso(status?.startedAt),
      updatedAt: iso(status?.updatedAt),
      statusError: facts.statusError,
    },
    computerName: computerName(),
    agentVersion: facts.version ?? null,
    installDir: null,
    service: service ? { state: service.state, pid: service.pid ?? null } : null,
    configPath: facts.configPath,
    configError: null,
    serverUrl: null,
    apiKey: null,
    tls: null,
    healthCheckInterval: status?.healthCheckInterval ?? null,
    lastHealthCheck: status?.lastHealthCheck
      ? {
        ok: status.lastHealthCheck.ok,
        at: iso(status.lastHealthCheck.at)!,
        httpStatus: status.lastHealthCheck.httpStatus ?? null,
        message: status.lastHealthCheck.message,
      }
      : null,
    paused: status?.paused ?? null,
    lastError: status?.lastError
      ? { at: iso(status.lastError.at)!, message: status.lastError.message }
      : null,
    lastSentAt: iso(status?.lastSentAt),
    deliveryFailingSince: running ? iso(status?.failingSince) : null,
    sessionSource: running ? status?.sessionSource ?? null : null,
    events: {
      total: null,
      pending: null,
      rejected: null,
      heldInMemory: running ? status?.unsaved ?? 0 : 0,
      oldestPendingAt: null,
      oldestPendingAgeSeconds: null,
      lastRecordedAt: null,
      lastSentEventAt: null,
      journalNote: null,
    },
    maxBacklogSeconds: Math.round(facts.maxBacklogMs / 1000),
  };
}

/** What config.ini says: the server, the masked key, TLS, and what keeps it from being used. */
async function addConfigFacts(
  report: StatusReport,
  configPath: string,
  platform: Pick<Platform, "defaultInstallDir">,
): Promise<void> {
  try {
    const installDir = platform.defaultInstallDir();
    const { config } = await loadConfig(configPath, { installDir });
    report.installDir = config.installDir;
    report.serverUrl = config.serverUrl;
    report.apiKey = maskSecret(config.apiKey);
    report.tls = describeTls(config);
    const problems = configProblems(config);
    if (problems.length > 0) report.configError = `not configured: ${problems.join("; ")}`;
  } catch (error) {
    report.configError = errorText(error);
  }
}

/** What event_log.csv says: the events, those not yet sent and how long the oldest waited. */
async function addJournalFacts(report: StatusReport, dir: string, now: number): Promise<void> {
  const journal = await readPending(dir);
  const oldest = journal.pending[0];
  report.events = {
    ...report.events,
    total: journal.total,
    pending: journal.pendingCount,
    rejected: journal.rejected,
    oldestPendingAt: oldest?.timestamp ?? null,
    oldestPendingAgeSeconds: oldest
      ? Math.max(
        0,
        Math.round((now - Temporal.Instant.from(oldest.timestamp).epochMilliseconds) / 1000),
      )
      : null,
    lastRecordedAt: journal.lastRecordedAt,
    lastSentEventAt: journal.lastSentEventAt,
    journalNote: journal.note,
  };
}

/** The lines `--status` prints for `report`. */
export function statusLines(report: StatusReport): string[] {
  const rows: [string, string][] = [];
  const { agent, events } = report;
  if (report.service) {
    const pid = report.service.pid ? ` (pid ${report.service.pid})` : "";
    rows.push(["Service", `${report.service.state}${pid}`]);
  }
  if (agent.state === null) {
    rows.push([
      "Agent",
      agent.running
        ? "running (no status.json yet)"
        : "has not run with this config.ini (no status.json)",
    ]);
  } else if (agent.running === false) {
    rows.push([
      "Agent",
      `not running (last seen ${agent.state} at ${agent.updatedAt}, pid ${agent.pid})`,
    ]);
  } else {
    rows.push(["Agent", `${agent.state} (pid ${agent.pid}, since ${agent.startedAt})`]);
  }
  rows.push(["Config", report.configPath]);
  if (report.configError) rows.push(["Config error", report.configError]);
  if (report.serverUrl !== null) {
    rows.push(["Server", report.serverUrl ? `${report.serverUrl} (${report.tls})` : "(not set)"]);
    if (isClearText(report.serverUrl)) rows.push(["Warning", CLEAR_TEXT_WARNING]);
    rows.push(["API key", report.apiKey!]);
  }
  if (agent.state !== null) {
    if (report.sessionSource) rows.push(["Sessions from", report.sessionSource]);
    rows.push(["Health checks", report.healthCheckInterval ?? "unknown"]);
    const health = report.lastHealthCheck;
    rows.push([
      "Last health check",
      health ? `${health.ok ? "passed" : "FAILED"} at ${health.at}: ${health.message}` : "none yet",
    ]);
    if (report.paused && !report.configError) rows.push(["Sending paused", report.paused]);
    if (report.lastError) {
      rows.push(["Last error", `${report.lastError.at}: ${report.lastError.message}`]);
    }
    rows.push(["Last event sent", report.lastSentAt ?? "never"]);
    if (report.deliveryFailingSince) {
      rows.push(["Sending fails since", report.deliveryFailingSince]);
    }
  }
  if (events.heldInMemory > 0) {
    rows.push(["Not yet on disk", `${events.heldInMemory} events held in memory (disk full?)`]);
  }
  rows.push(["Events", eventsLine(report)]);
  const said: Record<StatusVerdict, string> = {
    ok: "OK",
    unknown: report.problems[report.failed.indexOf("unknown")],
    "not-running": "no agent runs",
    "not-configured": "not configured",
    paused: "sending paused",
    "health-failed": "last health check not passed",
    "held-in-memory": "events held in memory",
    "delivery-failing": "the last attempt to send failed",
    backlog: report.problems[report.failed.indexOf("backlog")],
  };
  const verdicts = report.failed.length > 0 ? report.failed : ["ok" as const];
  rows.push([
    "Verdict",
    `${verdicts.map((v) => said[v]).join("; ")} (exit code ${report.exitCode})`,
  ]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return rows.map(([key, value]) => `${(key + ":").padEnd(width)}${value}`);
}

function eventsLine(report: StatusReport): string {
  const { events } = report;
  if (events.total === null) return events.journalNote ?? "event_log.csv cannot be read";
  if (events.total === 0 && events.journalNote) return events.journalNote;
  const oldest = events.oldestPendingAt ? ` (oldest ${events.oldestPendingAt})` : "";
  const note = events.journalNote ? ` (${events.journalNote})` : "";
  return `${events.total} in event_log.csv, ${events.pending} not yet sent${oldest}, ${events.rejected} rejected by the server${note}`;
}
