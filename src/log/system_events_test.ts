import assert from "node:assert/strict";
import type { SystemEventLog } from "../platform.ts";
import { EVENT_IDS, keyRefusedEvent } from "./app_event_log.ts";
import { MemoryEventLog } from "../../tests/support/memory_app_event_log.ts";
import { SERVICE_EXIT_CODES, serviceExitCode, StartError } from "../exit_codes.ts";
import { SystemEvents } from "./system_events.ts";

const KEY = "47959c6d5d8db64eb0ec3ad824ccbe82618632e2a58823d84aba92078da693fa";
const redact = (text: string) => text.replaceAll(KEY, "4795…93fa");

function setup(log: SystemEventLog | undefined = new MemoryEventLog()) {
  const lines: string[] = [];
  const events = new SystemEvents({
    log,
    logLine: (level, message) => lines.push(`${level}: ${message}`),
    redact,
  });
  return { events, lines, memory: log as MemoryEventLog };
}

Deno.test("the service exit code of a start failure: StartError's, else 10", () => {
  assert.equal(serviceExitCode(new StartError("held", SERVICE_EXIT_CODES.alreadyRunning)), 1);
  assert.equal(serviceExitCode(new TypeError("bug")), 10);
  assert.equal(serviceExitCode("a string"), 10);
});

Deno.test("pause and resume: one 201 per pause, 202 only once an event was sent again", () => {
  const { events, memory } = setup();
  const context = { serverUrl: "https://srv:8000", pending: 3 };
  const wrongUrl = {
    paused: "misconfigured" as const,
    lastError: { message: `https://srv:8000/api/log_event answered 404 (key ${KEY})` },
    sent: 5,
  };
  events.deliveryChanged({ paused: null, sent: 5 }, context);
  assert.equal(memory.entries.length, 0, "not paused: nothing to say");
  events.deliveryChanged(wrongUrl, context);
  events.deliveryChanged(wrongUrl, context);
  // A health check passed, delivery tried again and was refused again: the same pause.
  events.deliveryChanged({ paused: null, sent: 5 }, context);
  events.deliveryChanged(wrongUrl, context);
  assert.deepEqual(memory.entries.map((e) => e.id), [EVENT_IDS.sendingPaused]);
  assert.ok(!memory.entries[0].text.includes(KEY), memory.entries[0].text);
  assert.match(memory.entries[0].text, /server_url https:\/\/srv:8000 does not lead/);

  events.deliveryChanged({ paused: null, sent: 6 }, { ...context, pending: 2 });
  events.deliveryChanged({ paused: null, sent: 7 }, context);
  assert.deepEqual(memory.entries.map((e) => e.id), [201, 202]);
  assert.equal(memory.entries[1].text, "Sending resumed: 2 event(s) waiting");

  // A missing setting is config.ini's 200, a refused key 206: neither is a pause of 201.
  events.deliveryChanged({ paused: "not-configured", sent: 7 }, context);
  events.deliveryChanged({ paused: "unauthorized", sent: 7 }, context);
  // A wrong URL, then every event refused alike: two different pauses.
  events.deliveryChanged(wrongUrl, context);
  events.deliveryChanged({ paused: "refusing", sent: 7 }, context);
  assert.deepEqual(memory.entries.map((e) => e.id), [201, 202, 201, 201]);
  assert.match(memory.entries[3].text, /the server at https:\/\/srv:8000 refuses the events/);
});

Deno.test("a condition: written when it starts to hold, cleared once, redacted", () => {
  const { events, memory } = setup();
  const refused = keyRefusedEvent({ message: `the server rejected the API key ${KEY}` });
  events.condition("keyRefused", undefined); // never raised: nothing to clear
  events.condition("keyRefused", refused);
  events.condition("keyRefused", refused);
  events.condition("pinMismatch", undefined);
  events.condition("keyRefused", undefined);
  events.condition("keyRefused", undefined);
  events.condition("keyRefused", refused);
  assert.deepEqual(memory.entries.map((e) => e.id), [206, 216, 206]);
  assert.ok(memory.entries.every((e) => !e.text.includes(KEY)));
  assert.equal(memory.entries[1].text, "The server accepts the API key again");
  assert.equal(memory.entries[1].level, "information");
});

Deno.test("config errors: 200 once per distinct problem, again after the file was usable", () => {
  const { events, memory } = setup();
  events.configChecked([]);
  events.configChecked(["Invalid line 3"]);
  events.configChecked(["Invalid line 3"]);
  events.configChecked(["Invalid line 4"]);
  events.configChecked(["Invalid line 4"]);
  events.configChecked([]);
  events.configChecked(["Invalid line 4"]);
  events.configChecked(["api_key is not set", "server_url is not set"]);
  assert.deepEqual(
    memory.entries.map((e) => e.text.replace(/^config\.ini cannot be used: (.*?)\. .*$/, "$1")),
    [
      "Invalid line 3",
      "Invalid line 4",
      "Invalid line 4",
      "api_key is not set; server_url is not set",
    ],
  );
  assert.ok(memory.entries.every((e) => e.id === 200 && e.level === "error"));
});

Deno.test("event_log.csv refused: 300 once per episode", () => {
  const { events, memory } = setup();
  const refused = { path: "/x/event_log.csv", error: new Error("No space left"), held: 1 };
  events.journalRefused(refused);
  events.journalRefused({ ...refused, held: 2 });
  events.journalRefused({ ...refused, held: 9 });
  events.journalSaved();
  events.journalRefused({ ...refused, held: 4 });
  assert.deepEqual(memory.entries.map((e) => [e.id, e.level]), [[300, "error"], [300, "error"]]);
  assert.match(
    memory.entries[0].text,
    /^\/x\/event_log\.csv cannot be written: No space left\. 1 event/,
  );
  assert.match(memory.entries[1].text, /\. 4 event\(s\) are held/);
});

Deno.test("set aside, start, stop and start failure are written each time, redacted", () => {
  const { events, memory } = setup();
  events.journalSetAside({ path: "a.csv", asidePath: "a.csv.bad-1", reason: "not UTF-8" });
  events.started({ version: "1.0.0", serverUrl: "https://srv", installDir: "C:\\x" });
  events.startFailed(new StartError(`Cannot open: key ${KEY}`, 3));
  events.stopped({ pending: 0 });
  assert.deepEqual(memory.entries.map((e) => e.id), [301, 100, 102, 101]);
  assert.equal(
    memory.entries[2].text,
    "User Session Monitor Agent could not start (service exit code 3: event_log.csv cannot be opened): Cannot open: key 4795…93fa",
  );
});

Deno.test("a log that refuses entries: said once in the agent's log, again only after a success", () => {
  let failing = true;
  const written: number[] = [];
  const log: SystemEventLog = {
    report(id) {
      if (failing) throw new Error(`ReportEventW failed: the event log is full ${KEY}`);
      written.push(id);
    },
  };
  const { events, lines } = setup(log);
  events.started({ version: "1", serverUrl: "", installDir: "/x" });
  events.stopped({ pending: 0 });
  assert.deepEqual(lines, [
    "error: Cannot write event 100 to the Windows Event Log: ReportEventW failed: the event log is full 4795…93fa; the agent goes on (this is said once until a write succeeds again)",
  ]);
  failing = false;
  events.stopped({ pending: 0 });
  events.stopped({ pending: 0 });
  failing = true;
  events.stopped({ pending: 0 });
  assert.deepEqual(written, [101, 101]);
  assert.deepEqual(lines.map((l) => l.replace(/ to the Windows Event Log.*$/, "")), [
    "error: Cannot write event 100",
    "info: Event 101 written",
    "debug: Event 101 written",
    "error: Cannot write event 101",
  ]);
});

Deno.test("no system log (POSIX): nothing written, nothing logged", () => {
  const lines: string[] = [];
  const events = new SystemEvents({ log: undefined, logLine: (_, m) => lines.push(m), redact });
  events.started({ version: "1", serverUrl: "", installDir: "/x" });
  events.journalRefused({ path: "p", error: new Error("e"), held: 1 });
  assert.deepEqual(lines, []);
});
