/**
 * The health check: `POST <health_check_path>` with the API key. A pass means the server is up,
 * its database is connected and it accepts the key.
 *
 * @module
 */
import { type Clock, systemClock } from "./clock.ts";
import { type Config, maskSecret } from "./config.ts";
import type { HealthResult } from "./status.ts";
import { type Transport, TransportError } from "./transport.ts";

/** Asks the server's health endpoint; never throws. */
export async function checkHealth(
  config: Config,
  transport: Transport,
  options: { clock?: Clock } = {},
): Promise<HealthResult> {
  const at = (options.clock ?? systemClock).wallNow();
  try {
    const response = await transport.post(config.healthCheckPath, undefined, {
      "X-API-Key": config.apiKey,
    });
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(response.body);
    } catch { /* not JSON */ }
    const said = typeof body.message === "string" ? body.message : response.body.slice(0, 200);
    if (response.status === 200 && body.status === "ok") {
      return { at, ok: true, httpStatus: 200, message: said || "ok" };
    }
    if (response.status === 401 || response.status === 403) {
      return {
        at,
        ok: false,
        httpStatus: response.status,
        message: `the server rejected the API key ${
          maskSecret(config.apiKey)
        } (${said}); set the right key with --api-key`,
      };
    }
    if (response.status === 404 || response.status === 405) {
      return {
        at,
        ok: false,
        httpStatus: response.status,
        message:
          `${config.serverUrl}${config.healthCheckPath} answered ${response.status}: check server_url and health_check_path`,
      };
    }
    const database = typeof body.database === "string" ? ` (database ${body.database})` : "";
    return {
      at,
      ok: false,
      httpStatus: response.status,
      message: `the server answered ${response.status}${database}: ${said}`,
    };
  } catch (error) {
    const message = error instanceof TransportError
      ? error.message
      : `cannot reach ${config.serverUrl}: ${(error as Error).message}`;
    return { at, ok: false, message };
  }
}
