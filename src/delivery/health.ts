/**
 * The health check: `POST <health_check_path>` with the API key. A pass means the server is up,
 * its database is connected and it accepts the key.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import type { Config } from "../config/config.ts";
import { learnSecret, maskSecret, redact } from "../log/redact.ts";
import { describeForeign, MAX_QUOTE, readAnswer } from "./server_answer.ts";
import type { Transport } from "../net/transport.ts";
import { TransportError, type TransportErrorCode } from "../net/transport_error.ts";

/** The result of one health check. */
export interface HealthResult {
  /** Epoch milliseconds (wall clock). */
  at: number;
  ok: boolean;
  /** The HTTP status, when the server answered. */
  httpStatus?: number;
  /** What the server said, or why it could not be asked. */
  message: string;
  /** The server refused the API key (401 or 403). */
  keyRefused?: boolean;
  /** Why no answer came (set only when there is no {@link HealthResult.httpStatus}). */
  failure?: TransportErrorCode;
}

/**
 * Asks the server's health endpoint; never throws. The answer's text passes the redaction
 * point: a server or proxy that quotes the X-API-Key it received shows no key.
 */
export async function checkHealth(
  config: Config,
  transport: Transport,
  options: { clock?: Clock } = {},
): Promise<HealthResult> {
  learnSecret(config.apiKey);
  const result = await askHealth(config, transport, options);
  return { ...result, message: redact(result.message) };
}

async function askHealth(
  config: Config,
  transport: Transport,
  options: { clock?: Clock },
): Promise<HealthResult> {
  const at = (options.clock ?? systemClock).wallNow();
  try {
    const response = await transport.post(config.healthCheckPath, undefined, {
      "X-API-Key": config.apiKey,
    });
    const answer = readAnswer(response);
    const said = answer.message ?? response.body.slice(0, MAX_QUOTE);
    if (response.status === 200 && answer.status === "ok") {
      return { at, ok: true, httpStatus: 200, message: said || "ok" };
    }
    if (answer.kind === "unauthorized") {
      return {
        at,
        ok: false,
        httpStatus: response.status,
        keyRefused: true,
        message: `the server rejected the API key ${
          maskSecret(config.apiKey)
        } (${said}); set the right key with --api-key`,
      };
    }
    if (answer.kind === "success" || answer.kind === "redirect") {
      const what = answer.kind === "redirect"
        ? `a redirect to ${answer.location ?? "(no Location)"}`
        : describeForeign(answer);
      return {
        at,
        ok: false,
        httpStatus: response.status,
        message:
          `${config.serverUrl}${config.healthCheckPath} answered ${response.status} with ${what}: not the server's health answer; check server_url and health_check_path`,
      };
    }
    if (answer.kind === "wrong-url") {
      return {
        at,
        ok: false,
        httpStatus: response.status,
        message:
          `${config.serverUrl}${config.healthCheckPath} answered ${response.status}: check server_url and health_check_path`,
      };
    }
    const database = answer.database === undefined ? "" : ` (database ${answer.database})`;
    return {
      at,
      ok: false,
      httpStatus: response.status,
      message: `the server answered ${response.status}${database}: ${said}`,
    };
  } catch (error) {
    if (error instanceof TransportError) {
      return { at, ok: false, message: error.message, failure: error.code };
    }
    const message = `cannot reach ${config.serverUrl}: ${(error as Error).message}`;
    return { at, ok: false, message, failure: "network" };
  }
}
