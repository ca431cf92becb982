import assert from "node:assert/strict";
import { MemoryEventLog } from "../../tests/support/memory_app_event_log.ts";
import {
  configErrorEvent,
  EVENT_IDS,
  EVENT_LEVELS,
  eventText,
  journalSetAsideEvent,
  journalUnwritableEvent,
  MAX_TEXT,
  reportTo,
  sendingPausedEvent,
  sendingResumedEvent,
  startedEvent,
  startFailedEvent,
  stoppedEvent,
} from "./app_event_log.ts";
import type { SystemEventLog } from "../platform.ts";

Deno.test("event IDs are stable, unique and within EventCreate.exe's 1..1000", () => {
  assert.deepEqual(EVENT_IDS, {
    started: 100,
    stopped: 101,
    startFailed: 102,
    configError: 200,
    sendingPaused: 201,
    sendingResumed: 202,
    serverUnreachable: 203,
    backlogOld: 204,
    pinMismatch: 205,
    keyRefused: 206,
    serverReachable: 213,
    backlogCleared: 214,
    pinMatched: 215,
    keyAccepted: 216,
    journalUnwritable: 300,
    journalSetAside: 301,
  });
  const ids = Object.values(EVENT_IDS);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.ok(id >= 1 && id <= 1000, String(id));
  assert.deepEqual(Object.keys(EVENT_LEVELS).sort(), Object.keys(EVENT_IDS).sort());
});

Deno.test("each event's ID, level and text", async (t) => {
  const cases = [
    [
      startedEvent({
        version: "1.2.3",
        serverUrl: "https://192.168.27.1:8000",
        installDir: "C:\\ProgramData\\UserSessionMon",
      }),
      100,
      "information",
      "User Session Monitor Agent 1.2.3 started: server https://192.168.27.1:8000, folder C:\\ProgramData\\UserSessionMon",
    ],
    [stoppedEvent({ pending: 0 }), 101, "information", "User Session Monitor Agent stopped"],
    [
      stoppedEvent({ pending: 2 }),
      101,
      "information",
      "User Session Monitor Agent stopped: 2 event(s) not yet sent stay in event_log.csv and go at the next start",
    ],
    [
      startFailedEvent({ exitCode: 1, error: "agent.lock is held by pid 42" }),
      102,
      "error",
      "User Session Monitor Agent could not start (service exit code 1: another agent is already running with the install folder (agent.lock is held)): agent.lock is held by pid 42",
    ],
    [
      startFailedEvent({ exitCode: 77, error: "boom" }),
      102,
      "error",
      "User Session Monitor Agent could not start (service exit code 77: see error.log): boom",
    ],
    [
      configErrorEvent({ message: "Invalid value for server_url in C:\\x\\config.ini, line 3" }),
      200,
      "error",
      "config.ini cannot be used: Invalid value for server_url in C:\\x\\config.ini, line 3. Events are recorded in event_log.csv and sent once the file is fixed",
    ],
    [
      sendingPausedEvent({ reason: "other", message: "400 to two events", serverUrl: "https://s" }),
      201,
      "warning",
      "Sending paused: the server at https://s refuses the events (400 to two events). Events are kept in event_log.csv; fix config.ini (winagentUSM.exe --api-key or --url) and they are sent",
    ],
    [
      sendingPausedEvent({ reason: "wrong url", message: "404", serverUrl: "https://s/x" }),
      201,
      "warning",
      "Sending paused: server_url https://s/x does not lead to the server's API (404). Events are kept in event_log.csv; fix config.ini (winagentUSM.exe --api-key or --url) and they are sent",
    ],
    [
      sendingResumedEvent({ pending: 3 }),
      202,
      "information",
      "Sending resumed: 3 event(s) waiting",
    ],
    [
      journalUnwritableEvent({
        path: "C:\\d\\event_log.csv",
        error: "There is not enough space on the disk",
        held: 5,
      }),
      300,
      "error",
      "C:\\d\\event_log.csv cannot be written: There is not enough space on the disk. 5 event(s) are held in memory only until it can (free disk space, check the folder's permissions)",
    ],
    [
      journalSetAsideEvent({
        path: "C:\\d\\event_log.csv",
        asidePath: "C:\\d\\event_log.csv.bad-1",
        reason: "not an event log of this agent",
      }),
      301,
      "warning",
      "C:\\d\\event_log.csv could not be read (not an event log of this agent) and was set aside as C:\\d\\event_log.csv.bad-1; its readable unsent events were carried into a new event_log.csv and will be sent; rows that could not be read are only in the file set aside",
    ],
  ] as const;
  for (const [entry, id, level, text] of cases) {
    await t.step(`${id} ${text.slice(0, 40)}`, () => {
      assert.deepEqual(entry, { id, level, text });
    });
  }
});

Deno.test("texts are made safe for Event Viewer: no %%n parameter inserts, bounded length", () => {
  assert.equal(eventText("disk 100%%1 full, 50% done, %1"), "disk 100% %1 full, 50% done, %1");
  const long = eventText("x".repeat(MAX_TEXT + 10));
  assert.equal(long.length, MAX_TEXT);
  assert.ok(long.endsWith("…"));
});

Deno.test("reportTo never throws, and MemoryEventLog keeps what it is given", () => {
  const failing: SystemEventLog = {
    report() {
      throw new Error("the event log service is not running");
    },
  };
  reportTo(failing, stoppedEvent({ pending: 0 }));
  reportTo(undefined, stoppedEvent({ pending: 0 }));
  const memory = new MemoryEventLog();
  reportTo(memory, stoppedEvent({ pending: 0 }));
  assert.deepEqual(memory.entries, [{
    id: 101,
    level: "information",
    text: "User Session Monitor Agent stopped",
  }]);
});
