/**
 * The pure parts of the Windows service host: the service's name, its control codes (including
 * the user-defined reload control and the test-only session controls), the exit codes it reports
 * when it cannot start, and the SERVICE_STATUS it reports in each state.
 *
 * @module
 */
import {
  SERVICE_ACCEPT_SESSIONCHANGE,
  SERVICE_ACCEPT_SHUTDOWN,
  SERVICE_ACCEPT_STOP,
  SERVICE_RUNNING,
  SERVICE_START_PENDING,
  SERVICE_STOP_PENDING,
  SERVICE_STOPPED,
  SERVICE_WIN32_OWN_PROCESS,
} from "../../ffi/advapi32.ts";
import { ERROR_SERVICE_SPECIFIC_ERROR } from "../../ffi/error.ts";
import type { ServiceStatus } from "../../ffi/structs.ts";

/** The service's name (part of the contract with the server's install_service.bat). */
export const SERVICE_NAME = "UserSessionMonService";
/** The name shown in services.msc. */
export const SERVICE_DISPLAY_NAME = "User Session Monitor Agent";
/** The description shown in services.msc. */
export const SERVICE_DESCRIPTION =
  "Records Windows logon, logoff, lock and unlock events in event_log.csv and sends them to the User Session Monitor server.";

/** User-defined control: config.ini changed, reread it and run a health check. */
export const RELOAD_CONTROL = 128;
/** First and last user-defined control of the test-only session path (see {@link decodeTestControl}). */
export const TEST_CONTROL_FIRST = 129;
export const TEST_CONTROL_LAST = 252;
/**
 * The environment variable that enables the test-only controls: they are accepted only when the
 * service process has `USM_TEST_HOOKS=1` in its environment.
 */
export const TEST_HOOKS_ENV = "USM_TEST_HOOKS";

import { SERVICE_EXIT_CODES } from "../exit_codes.ts";
export { SERVICE_EXIT_CODES };

/**
 * The service-specific exit code for an error thrown by the agent's start: the agent tags the
 * errors it knows with a numeric `serviceExitCode` (src/agent.ts `StartError`); anything else is
 * unexpected. A broken config.ini is not among them: the agent starts, records events and sends
 * nothing until the file is fixed.
 */
export function serviceExitCode(error: unknown): number {
  const code = (error as { serviceExitCode?: unknown } | null)?.serviceExitCode;
  return typeof code === "number" ? code : SERVICE_EXIT_CODES.unexpected;
}

/**
 * Decodes a test-only control: code 129 + (wtsCode - 5) + 4 * (session - 1), for the session
 * changes WTS_SESSION_LOGON 5 .. WTS_SESSION_UNLOCK 8 and sessions 1..31. Returns undefined for
 * other codes.
 */
export function decodeTestControl(
  control: number,
): { wtsCode: number; session: number } | undefined {
  if (!Number.isInteger(control) || control < TEST_CONTROL_FIRST || control > TEST_CONTROL_LAST) {
    return undefined;
  }
  const n = control - TEST_CONTROL_FIRST;
  return { wtsCode: 5 + (n % 4), session: 1 + Math.floor(n / 4) };
}

/** Encodes a test-only control (the inverse of {@link decodeTestControl}). */
export function encodeTestControl(wtsCode: number, session: number): number {
  if (wtsCode < 5 || wtsCode > 8 || !Number.isInteger(wtsCode)) {
    throw new RangeError(`Invalid WTS code for a test control: ${wtsCode} is not 5..8`);
  }
  if (session < 1 || session > 31 || !Number.isInteger(session)) {
    throw new RangeError(`Invalid session for a test control: ${session} is not 1..31`);
  }
  return TEST_CONTROL_FIRST + (wtsCode - 5) + 4 * (session - 1);
}

/** The states the host reports. */
export type HostState = "start_pending" | "running" | "stop_pending" | "stopped";

const STATE_CODES: Record<HostState, number> = {
  start_pending: SERVICE_START_PENDING,
  running: SERVICE_RUNNING,
  stop_pending: SERVICE_STOP_PENDING,
  stopped: SERVICE_STOPPED,
};

/** Wait hint reported with the pending states (ms). */
export const PENDING_WAIT_HINT_MS = 30_000;

/**
 * The SERVICE_STATUS for `state`: pending states carry a wait hint and a checkpoint; only
 * RUNNING accepts STOP, SHUTDOWN and SESSIONCHANGE (INTERROGATE is always accepted); STOPPED
 * with a nonzero `exitCode` reports ERROR_SERVICE_SPECIFIC_ERROR and that code.
 */
export function serviceStatusFor(
  state: HostState,
  options: { checkPoint?: number; exitCode?: number } = {},
): ServiceStatus {
  const pending = state === "start_pending" || state === "stop_pending";
  const failed = state === "stopped" && (options.exitCode ?? 0) !== 0;
  return {
    serviceType: SERVICE_WIN32_OWN_PROCESS,
    currentState: STATE_CODES[state],
    controlsAccepted: state === "running"
      ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_SESSIONCHANGE
      : 0,
    win32ExitCode: failed ? ERROR_SERVICE_SPECIFIC_ERROR : 0,
    serviceSpecificExitCode: failed ? options.exitCode! : 0,
    checkPoint: pending ? options.checkPoint ?? 1 : 0,
    waitHint: pending ? PENDING_WAIT_HINT_MS : 0,
  };
}
