/**
 * The test-only session controls of a TEST build: user-defined controls 129..252 that make the
 * service call its own HandlerEx with a synthesised WTSSESSION_NOTIFICATION, as the service
 * manager would for a real logon, logoff, lock or unlock. They exist only where this module is
 * imported: by tests/windows/test_build.ts (the entry of `deno task compile --test-build` and
 * of the development installs of the Windows tests) and by tests/windows/host_harness.ts. The
 * release build (mod.ts) never imports it, so a release winagentUSM.exe has no code that
 * could forge a session change (tests/windows/release_build_test.ts checks its module graph).
 *
 * Code: 129 + (wtsCode - 5) + 4 * (session - 1), for WTS_SESSION_LOGON 5 .. WTS_SESSION_UNLOCK 8
 * and sessions 1..31.
 *
 * @module
 */
import { SERVICE_CONTROL_SESSIONCHANGE } from "../../ffi/advapi32.ts";
import { encodeSessionNotification } from "../../ffi/structs.ts";
import { HANDLER_EX, registerExtraControls } from "../../src/windows/svc/service_host.ts";

/** First and last test control. */
export const TEST_CONTROL_FIRST = 129;
export const TEST_CONTROL_LAST = 252;

/** Decodes a test control; undefined for other codes. */
export function decodeTestControl(
  control: number,
): { wtsCode: number; session: number } | undefined {
  if (!Number.isInteger(control) || control < TEST_CONTROL_FIRST || control > TEST_CONTROL_LAST) {
    return undefined;
  }
  const n = control - TEST_CONTROL_FIRST;
  return { wtsCode: 5 + (n % 4), session: 1 + Math.floor(n / 4) };
}

/** Encodes a test control (the inverse of {@link decodeTestControl}). */
export function encodeTestControl(wtsCode: number, session: number): number {
  if (wtsCode < 5 || wtsCode > 8 || !Number.isInteger(wtsCode)) {
    throw new RangeError(`Invalid WTS code for a test control: ${wtsCode} is not 5..8`);
  }
  if (session < 1 || session > 31 || !Number.isInteger(session)) {
    throw new RangeError(`Invalid session for a test control: ${session} is not 1..31`);
  }
  return TEST_CONTROL_FIRST + (wtsCode - 5) + 4 * (session - 1);
}

/**
 * Registers the test controls with the service host of this process: each one calls the
 * service's own HandlerEx through its native function pointer (on a later turn of the event
 * loop: HandlerEx itself must return first).
 */
export function registerTestControls(): void {
  registerExtraControls((control, handlerEx) => {
    const test = decodeTestControl(control);
    if (!test) return false;
    setTimeout(() => synthesizeSessionChange(handlerEx, test.wtsCode, test.session), 0);
    return true;
  });
}

/**
 * Calls a service's HandlerEx with SERVICE_CONTROL_SESSIONCHANGE and a synthesised
 * WTSSESSION_NOTIFICATION, as the service manager would.
 */
export function synthesizeSessionChange(
  handlerEx: Deno.UnsafeCallback<typeof HANDLER_EX>["pointer"],
  wtsCode: number,
  session: number,
): void {
  const notification = encodeSessionNotification(session);
  new Deno.UnsafeFnPointer(handlerEx, HANDLER_EX).call(
    SERVICE_CONTROL_SESSIONCHANGE,
    wtsCode,
    Deno.UnsafePointer.of(notification),
    null,
  );
}
