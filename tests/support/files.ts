/**
 * File helpers for end-to-end tests: the agent's folder, its journal, and the secret scan.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readJournal } from "../../src/journal/journal.ts";

/** An API key of the reference server's kind (64 hex digits), distinctive enough to scan for. */
export const TEST_API_KEY = "47959c6d5d8db64eb0ec3ad824ccbe82618632e2a58823d84aba92078da693fa";

/** A fresh folder for one agent. */
export async function agentDir(prefix = "usm-e2e-"): Promise<{ dir: string; config: string }> {
  const dir = await Deno.makeTempDir({ prefix });
  return { dir, config: join(dir, "config.ini") };
}

/** The rows of event_log.csv (live file only), read as --status reads them. */
export async function journalRows(dir: string) {
  try {
    return (await readJournal(join(dir, "event_log.csv"))).entries;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/**
 * How long a test waits for a state before it fails: long enough that only a hang reaches it on
 * a busy machine (a test never asserts a timing).
 */
export const HANG_MS = 120_000;

/** Polls until `predicate` holds, or fails with `what` after `timeoutMs` (a hang). */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T> | T,
  predicate: (value: T) => boolean,
  timeoutMs = HANG_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!predicate(value)) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}; last value: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await probe();
  }
  return value;
}

/**
 * Asserts that `secret` appears in no file of `dir` (logs, journal, status, archives) and in
 * none of `outputs` (process output, error messages). config.ini is the one place it belongs.
 */
export async function assertSecretNowhere(
  dir: string,
  secret: string,
  outputs: string[] = [],
): Promise<void> {
  let scanned = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || entry.name === "config.ini") continue;
    const text = await Deno.readTextFile(join(dir, entry.name));
    assert.ok(!text.includes(secret), `the API key is in ${entry.name}`);
    scanned++;
  }
  assert.ok(scanned > 0, `no files to scan in ${dir}`);
  outputs.forEach((output, i) => {
    assert.ok(!output.includes(secret), `the API key is in output #${i}`);
  });
}

/** Mounting a tmpfs needs root (CI and the developers' machines run as root). */
export function canMount(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}

/** Runs a command; throws with its standard error when it fails. */
export async function run(command: string, ...args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(command, { args, stderr: "piped" }).output();
  if (code !== 0) {
    throw new Error(`${command} ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
  }
}

/**
 * Tells the agent of `config` that the server has no rate limit (`server_rate_limit = 0`), for
 * tests that send more than the server's default 60 events a minute.
 */
export async function withoutRateLimit(config: string): Promise<void> {
  const text = await Deno.readTextFile(config);
  await Deno.writeTextFile(
    config,
    text.replace(/^server_rate_limit = .*/m, "server_rate_limit = 0"),
  );
}
