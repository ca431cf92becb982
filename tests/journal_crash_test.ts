/**
 * Crash test of the journal: a real child process (tests/support/journal_writer.ts) appends and
 * settles events in a loop with a tiny rotation size, and is SIGKILLed at random instants. After
 * each kill the journal is recovered and every file is checked against what the child had
 * acknowledged on stdout.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Journal, readJournal } from "../src/journal/journal.ts";
import { archivePath } from "../src/log/rotation.ts";
import { readLines } from "../src/text.ts";
import { eventFor, idOf, statusFor } from "./support/journal_writer.ts";

const WRITER = new URL("./support/journal_writer.ts", import.meta.url).pathname;
const KILLS = 250;
const MIN_KILLS = 100;
const BUDGET_MS = 60_000;
const ROTATION_BYTES = 1024;

interface Run {
  lines: string[];
  appendsPerSecond: number;
  /** Whether the writer was killed before it had opened the journal. */
  beforeReady: boolean;
}

/**
 * Runs the writer from `firstId` and kills it `delayMs` after it reported READY, or, with
 * `fromSpawn`, `delayMs` after it was spawned (possibly while its own open() is recovering).
 */
async function runAndKill(
  path: string,
  firstId: number,
  delayMs: number,
  fromSpawn = false,
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      WRITER,
      path,
      String(firstId),
      String(ROTATION_BYTES),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let readyAt = 0;
  let onReady = () => {};
  const ready = new Promise<void>((resolve) => onReady = resolve);
  const reading = (async () => {
    for await (const line of readLines(child.stdout)) {
      lines.push(line);
      if (line === "READY") {
        readyAt = performance.now();
        onReady();
      }
    }
    onReady();
  })();
  const stderr = new Response(child.stderr).text();
  if (!fromSpawn) await ready;
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  const killedAt = performance.now();
  try {
    child.kill("SIGKILL");
  } catch {
    // Already gone: the status check below says why.
  }
  const [status, errors] = await Promise.all([child.status, stderr, reading]);
  assert.equal(status.signal, "SIGKILL", `the writer exited by itself: ${errors}`);
  const appends = lines.filter((line) => line.startsWith("A ")).length;
  const seconds = Math.max(killedAt - readyAt, 1) / 1000;
  const beforeReady = !lines.includes("READY");
  return { lines, appendsPerSecond: beforeReady ? NaN : appends / seconds, beforeReady };
}

interface Occurrence {
  live: boolean;
  status: number;
}

async function archivesOf(path: string): Promise<string[]> {
  const paths: string[] = [];
  const dir = path.slice(0, path.lastIndexOf("/"));
  for await (const entry of Deno.readDir(dir)) {
    const match = /^event_log\.(\d+)\.csv$/.exec(entry.name);
    if (match) paths.push(archivePath(path, Number(match[1])));
  }
  return paths;
}

Deno.test({
  name: "journal keeps every acknowledged row and status when its writer is SIGKILLed at random",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "journal_crash_" });
    const path = join(dir, "event_log.csv");
    const ackedAppends = new Set<number>();
    const ackedStatus = new Map<number, number>();
    let nextId = 1;
    let kills = 0;
    let tornTails = 0;
    let rotationsUndone = 0;
    let rotationsFinished = 0;
    let startupKills = 0;
    let rowsInFiles = 0;
    let killsBeforeReady = 0;
    let childRecoveries = 0;
    const rates: number[] = [];
    const started = performance.now();
    try {
      while (kills < KILLS && performance.now() - started < BUDGET_MS) {
        const acknowledge = (run: Run) => {
          kills++;
          if (!run.beforeReady) rates.push(run.appendsPerSecond);
          for (const line of run.lines) {
            const [kind, id, status] = line.split(" ");
            if (kind === "A") ackedAppends.add(Number(id));
            if (kind === "S") ackedStatus.set(Number(id), Number(status));
            if (kind === "W") childRecoveries++;
          }
        };
        acknowledge(await runAndKill(path, nextId, Math.floor(Math.random() * 31)));
        if (kills % 3 === 0) {
          // No recovery here: the next writer's own open() recovers, and is killed at a random
          // instant from its spawn, often during that recovery. Ids jump ahead so a row written
          // but not acknowledged is never reused.
          nextId = Math.max(nextId, ...ackedAppends) + 100;
          const run = await runAndKill(path, nextId, Math.floor(Math.random() * 150), true);
          acknowledge(run);
          startupKills++;
          if (run.beforeReady) killsBeforeReady++;
        }

        // Recovery, as the agent does at start.
        const warnings: string[] = [];
        const journal = await Journal.open(path, {
          rotationSizeBytes: ROTATION_BYTES,
          keep: 1_000_000,
          onWarning: (message) => warnings.push(message),
        });
        const pendingIds = journal.pending().map((entry) => idOf(entry.event));
        await journal.close();
        tornTails += warnings.filter((w) => w.startsWith("Truncated a torn last line")).length;
        rotationsUndone += warnings.filter((w) => w.startsWith("Removed ")).length;
        rotationsFinished += warnings.filter((w) => w.startsWith("Finished an interrupted")).length;

        // Every file parses, with no torn line left.
        const occurrences = new Map<number, Occurrence[]>();
        const files = [path, ...await archivesOf(path)];
        for (const file of files) {
          const { entries, tornTail } = await readJournal(file);
          assert.equal(tornTail, false, `${file} still has a torn tail after recovery`);
          for (const { event, status } of entries) {
            const id = idOf(event);
            assert.deepEqual(event, eventFor(id), `the fields of row ${id} changed in ${file}`);
            const list = occurrences.get(id) ?? [];
            list.push({ live: file === path, status });
            occurrences.set(id, list);
          }
        }
        assert.ok(
          (await Deno.readTextFile(path)).startsWith(
            "eventtype,username,hostname,ipaddress,timestamp,send_status\n",
          ),
        );

        for (const [id, list] of occurrences) {
          const live = list.filter((o) => o.live);
          const settled = list.filter((o) => o.status !== 0);
          assert.ok(live.length <= 1, `row ${id} is ${live.length} times in the live file`);
          assert.ok(settled.length <= 1, `row ${id} is settled ${settled.length} times`);
          if (settled.length === 0) {
            assert.equal(live.length, 1, `pending row ${id} is not in the live file`);
          } else {
            assert.equal(settled[0].status, statusFor(id), `row ${id} has a status never set`);
            if (live.length === 1) assert.notEqual(live[0].status, 0, `row ${id} is pending twice`);
          }
        }
        for (const id of ackedAppends) {
          assert.ok(occurrences.has(id), `acknowledged row ${id} was lost`);
        }
        for (const [id, status] of ackedStatus) {
          const settled = occurrences.get(id)?.find((o) => o.status !== 0);
          assert.equal(settled?.status, status, `acknowledged status of row ${id} was lost`);
        }
        const livePending = [...occurrences].filter(([, list]) =>
          list.some((o) => o.live && o.status === 0)
        ).map(([id]) => id);
        assert.deepEqual(
          pendingIds.toSorted((a, b) => a - b),
          livePending.toSorted((a, b) => a - b),
        );

        nextId = Math.max(nextId - 1, ...occurrences.keys(), ...ackedAppends) + 1;
        rowsInFiles = occurrences.size;
      }
      const rotations = (await archivesOf(path)).length;
      const seconds = (performance.now() - started) / 1000;
      const meanRate = rates.reduce((a, b) => a + b, 0) / rates.length;
      console.log(
        `journal crash test: ${kills} kills in ${
          seconds.toFixed(1)
        } s, ${rowsInFiles} distinct rows in the files, ${ackedAppends.size} appends and ${ackedStatus.size} statuses acknowledged, ${rotations} rotations completed, interrupted rotations: ${rotationsUndone} undone, ${rotationsFinished} finished, ${startupKills} writers started on unrecovered files (${childRecoveries} repairs by their open, ${killsBeforeReady} killed before READY), ${tornTails} torn tails truncated, writer ${
          Math.round(meanRate)
        } appends/s`,
      );
      assert.ok(kills >= MIN_KILLS, `only ${kills} kills fitted in ${BUDGET_MS} ms`);
      assert.ok(rotations > 0, "no rotation happened");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
