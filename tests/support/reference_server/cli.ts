/**
 * The reference server double as a program, for `deno task demo` and manual runs:
 * `deno run -A tests/support/reference_server.ts [--port N] [--limit N --window-ms N | --no-limit]
 * [--api-key K] [--bits 2048] [--no-tls] [--verbose]` prints one JSON line
 * {"url","port","sha256","apiKey"} and serves until SIGINT or SIGTERM (SIGBREAK on Windows).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { errorText } from "../../../src/text.ts";
import { ReferenceServer } from "./emulation.ts";
import { DEFAULT_API_KEY } from "./types.ts";

/** Runs the program with `args`; resolves with its exit code once it was told to stop. */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        port: { type: "string" },
        limit: { type: "string" },
        "window-ms": { type: "string" },
        "no-limit": { type: "boolean" },
        "api-key": { type: "string" },
        bits: { type: "string" },
        "no-tls": { type: "boolean" },
        verbose: { type: "boolean" },
      },
    }));
  } catch (error) {
    console.error(`Invalid arguments: ${errorText(error)}`);
    return 2;
  }
  const number = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) {
      throw new TypeError(`Invalid value for --${name}: "${text}" is not a whole number`);
    }
    return n;
  };
  let server: ReferenceServer;
  const apiKey = values["api-key"] ?? DEFAULT_API_KEY;
  try {
    server = await ReferenceServer.start({
      port: number("port", values.port, 0),
      apiKeys: [apiKey],
      rateLimit: values["no-limit"] ? null : {
        limit: number("limit", values.limit, 60),
        windowMs: number("window-ms", values["window-ms"], 60_000),
      },
      tls: values["no-tls"] ? false : "reference",
      certBits: values.bits === undefined ? undefined : number("bits", values.bits, 4096),
      maxRecords: 10_000,
      log: values.verbose ? (line) => console.error(line) : undefined,
    });
  } catch (error) {
    console.error(`Cannot start the reference server: ${errorText(error)}`);
    return 1;
  }
  console.log(JSON.stringify({
    url: server.url,
    port: server.port,
    sha256: server.certificate?.sha256 ?? null,
    apiKey,
  }));
  await new Promise<void>((resolve) => {
    const signals: Deno.Signal[] = Deno.build.os === "windows"
      ? ["SIGINT", "SIGBREAK"]
      : ["SIGINT", "SIGTERM"];
    for (const signal of signals) Deno.addSignalListener(signal, () => resolve());
  });
  await server.stop();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
