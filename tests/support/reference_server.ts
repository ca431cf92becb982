/**
 * A test double of the reference server ("winauthmon-server", Flask), for delivery, end-to-end
 * tests and the benchmark: the entry point that tests and scripts import and run.
 *
 * - reference_server/emulation.ts: {@linkcode ReferenceServer}, what the real server does
 *   (endpoints, API keys, duplicates, rate limit, stored rows) and how it can be made to fail;
 *   its header lists the real server's quirks that are copied.
 * - reference_server/types.ts: its options, modes, stored rows and request records.
 * - reference_server/log_event.ts: the log_event route's steps, in the server's order.
 * - reference_server/flask.ts, reference_server/timestamp.ts: Python, Flask and strptime details.
 * - reference_server/http.ts: the HTTP/1.1 server over Deno.listen and Deno.listenTls.
 * - reference_server/cli.ts: the program.
 *
 * Run as a program: `deno run -A tests/support/reference_server.ts [--port N]
 * [--limit N --window-ms N | --no-limit] [--api-key K] [--bits 2048] [--no-tls] [--verbose]`
 * prints one JSON line {"url","port","sha256","apiKey"} and serves until SIGINT or SIGTERM.
 *
 * @module
 */
import { main } from "./reference_server/cli.ts";

export { ReferenceServer } from "./reference_server/emulation.ts";
export {
  DEFAULT_API_KEY,
  type RateLimitOptions,
  type ReferenceServerOptions,
  type RequestRecord,
  type ServerCertificate,
  type ServerMode,
  type StoredEvent,
} from "./reference_server/types.ts";
export { flaskJson } from "./reference_server/flask.ts";
export { parseReferenceTimestamp } from "./reference_server/timestamp.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
