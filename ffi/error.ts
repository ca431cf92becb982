/**
 * {@link Win32Error} and {@link unwrap}: every BOOL or handle result of a Win32 call goes through
 * `unwrap()`, which reads GetLastError at once (same thread, before any other call) and throws a
 * Win32Error naming the function, with the system's message from FormatMessageW.
 *
 * @module
 */
import { FORMAT_MESSAGE_FROM_SYSTEM, FORMAT_MESSAGE_IGNORE_INSERTS, kernel32 } from "./kernel32.ts";
import { fromWide } from "./wide.ts";

/** Well-known Win32 error codes the agent tests for. */
export const ERROR_FILE_NOT_FOUND = 2;
export const ERROR_ACCESS_DENIED = 5;
export const ERROR_INVALID_PARAMETER = 87;
export const ERROR_INSUFFICIENT_BUFFER = 122;
export const ERROR_ALREADY_EXISTS = 183;
export const ERROR_SERVICE_REQUEST_TIMEOUT = 1053;
export const ERROR_SERVICE_ALREADY_RUNNING = 1056;
export const ERROR_SERVICE_DOES_NOT_EXIST = 1060;
export const ERROR_SERVICE_CANNOT_ACCEPT_CTRL = 1061;
export const ERROR_SERVICE_NOT_ACTIVE = 1062;
export const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT = 1063;
export const ERROR_SERVICE_SPECIFIC_ERROR = 1066;
export const ERROR_SERVICE_MARKED_FOR_DELETE = 1072;
export const ERROR_SERVICE_EXISTS = 1073;

/** The system's message for a Win32 error code, or "" when it has none. */
export function systemMessage(code: number): string {
  try {
    const buffer = new Uint16Array(512);
    const length = kernel32().FormatMessageW(
      FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      null,
      code,
      0,
      buffer,
      buffer.length,
      null,
    );
    return fromWide(buffer.subarray(0, length)).trim().replace(/\.$/, "");
  } catch {
    return "";
  }
}

/** A failed Win32 call: the function, the error code and the system's message. */
export class Win32Error extends Error {
  /** The Win32 error code (GetLastError or the returned status). */
  readonly code: number;
  /** The API function that failed, e.g. "OpenServiceW". */
  readonly functionName: string;
  /** FormatMessageW's text for the code ("" when the system has none). */
  readonly systemMessage: string;

  constructor(
    functionName: string,
    code: number,
    options?: ErrorOptions & { systemMessage?: string },
  ) {
    const text = options?.systemMessage ??
      (code === 0 ? "the system's error code was lost (GetLastError read 0)" : systemMessage(code));
    super(`${functionName} failed: ${text || "unknown error"} (error ${code})`, options);
    this.name = "Win32Error";
    this.code = code;
    this.functionName = functionName;
    this.systemMessage = text;
  }
}

/** What {@link unwrap} accepts: a BOOL (number), a handle (pointer) or a nonzero count. */
export type Win32Result = number | bigint | Deno.PointerValue;

/**
 * Returns `result` when the call succeeded (nonzero BOOL, non-NULL handle); otherwise reads
 * GetLastError and throws a {@link Win32Error} for `functionName`. Call it directly on the
 * result, before any other Win32 call, so the last error is still the call's own. Deno's FFI
 * may still clear the thread's last error between the two calls (seen under Wine: code 0), so
 * logic that depends on a specific code must allow for 0.
 */
export function unwrap<T extends Win32Result>(functionName: string, result: T): NonNullable<T> {
  if (result === null || result === 0 || result === 0n) {
    const code = kernel32().GetLastError();
    throw new Win32Error(functionName, code);
  }
  return result as NonNullable<T>;
}

/**
 * For functions that return their error code (SetNamedSecurityInfoW, GetNamedSecurityInfoW,
 * ...): throws a {@link Win32Error} unless `status` is ERROR_SUCCESS (0).
 */
export function checkStatus(functionName: string, status: number): void {
  if (status !== 0) throw new Win32Error(functionName, status);
}
