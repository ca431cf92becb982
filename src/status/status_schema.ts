/**
 * What status.json holds, and its check as `--status` and `--pending` read it: the file is
 * written by the agent, but it may have been edited, truncated or replaced, and a field of the
 * wrong type must give a clear "damaged" message, not a failure deep in the report.
 *
 * @module
 */
import type { HealthResult } from "../delivery/health.ts";

/** The content of status.json. */
export interface AgentStatus {
  version: string;
  pid: number;
  state: "starting" | "running" | "stopping" | "stopped";
  startedAt: number;
  updatedAt: number;
  configPath: string;
  serverUrl: string;
  /** Why config.ini cannot be used, when it cannot. */
  configError?: string;
  /** Why nothing is sent, when nothing is (not configured, key rejected, URL wrong). */
  paused?: string;
  healthCheckInterval: string;
  lastHealthCheck?: HealthResult;
  lastError?: { at: number; message: string };
  lastSentAt?: number;
  /** Since when attempts to send fail (the last one failed); absent when the last one did not. */
  failingSince?: number;
  nextAttemptAt?: number;
  sent: number;
  rejected: number;
  pending: number;
  /** Events held in memory because event_log.csv could not be written. */
  unsaved: number;
  /**
   * Where session changes come from ("systemd-logind", "simulated: <file>"), or why none are
   * recorded ("none: ..."); absent until the source is known.
   */
  sessionSource?: string;
  /**
   * The event delivery is working on (the oldest pending one) once it has been tried in this
   * process: its eventKey, the attempts so far, and why the last one failed.
   */
  sending?: { key: string; attempts: number; lastError?: string };
}

type Kind = "string" | "number" | "boolean" | "object";

/** Each field of {@link AgentStatus}: its type, and whether it may be absent. */
const FIELDS: Record<keyof AgentStatus, [Kind, "required" | "optional"]> = {
  version: ["string", "required"],
  pid: ["number", "required"],
  state: ["string", "required"],
  startedAt: ["number", "required"],
  updatedAt: ["number", "required"],
  configPath: ["string", "required"],
  serverUrl: ["string", "required"],
  configError: ["string", "optional"],
  paused: ["string", "optional"],
  healthCheckInterval: ["string", "required"],
  lastHealthCheck: ["object", "optional"],
  lastError: ["object", "optional"],
  lastSentAt: ["number", "optional"],
  failingSince: ["number", "optional"],
  nextAttemptAt: ["number", "optional"],
  sent: ["number", "required"],
  rejected: ["number", "required"],
  pending: ["number", "required"],
  unsaved: ["number", "required"],
  sessionSource: ["string", "optional"],
  sending: ["object", "optional"],
};

/** The fields of the objects inside status.json. */
const NESTED: Record<string, Record<string, [Kind, "required" | "optional"]>> = {
  lastHealthCheck: {
    at: ["number", "required"],
    ok: ["boolean", "required"],
    httpStatus: ["number", "optional"],
    message: ["string", "required"],
  },
  lastError: { at: ["number", "required"], message: ["string", "required"] },
  sending: {
    key: ["string", "required"],
    attempts: ["number", "required"],
    lastError: ["string", "optional"],
  },
};

const IS: Record<Kind, (value: unknown) => boolean> = {
  string: (value) => typeof value === "string",
  number: (value) => typeof value === "number" && Number.isFinite(value),
  boolean: (value) => typeof value === "boolean",
  object: (value) => typeof value === "object" && value !== null && !Array.isArray(value),
};

const STATES: readonly string[] = ["starting", "running", "stopping", "stopped"];

function checkFields(
  value: Record<string, unknown>,
  fields: Record<string, [Kind, "required" | "optional"]>,
  prefix: string,
): void {
  for (const [name, [kind, presence]] of Object.entries(fields)) {
    const field = value[name];
    if (field === undefined && presence === "optional") continue;
    if (!IS[kind](field)) {
      throw new TypeError(
        `the field ${prefix}${name} is ${
          field === undefined ? "missing" : `${JSON.stringify(field)?.slice(0, 40)}`
        }, not a ${kind}`,
      );
    }
    if (NESTED[name] && prefix === "") {
      checkFields(field as Record<string, unknown>, NESTED[name], `${name}.`);
    }
  }
}

/**
 * The status in `text` (status.json's content).
 * @throws {SyntaxError} When it is not JSON.
 * @throws {TypeError} When it is not an object of the fields the agent writes, naming the field.
 */
export function parseStatus(text: string): AgentStatus {
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("it is not a JSON object");
  }
  checkFields(value as Record<string, unknown>, FIELDS, "");
  const { state } = value as AgentStatus;
  if (!STATES.includes(state)) {
    throw new TypeError(`the field state is ${JSON.stringify(state)}, not one of ${STATES}`);
  }
  return value as AgentStatus;
}
