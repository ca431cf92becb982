/**
 * The Windows Event Log writer: the registry values and types on every platform; registration,
 * ReportEventW and removal under Windows / Wine (the Wine suite runs this file).
 */
import assert from "node:assert/strict";
import {
  EVENT_MESSAGE_FILE,
  EVENT_SOURCE,
  EVENT_SOURCE_KEY,
  eventLogRecordCount,
  eventType,
  registerEventSource,
  sourceValues,
  unregisterEventSource,
  WindowsEventLog,
} from "./app_event_log.ts";
import { EVENT_IDS, startedEvent } from "../../log/app_event_log.ts";

const ignore = Deno.build.os !== "windows";

Deno.test("event types and the source's registry values", () => {
  assert.equal(eventType("error"), 1);
  assert.equal(eventType("warning"), 2);
  assert.equal(eventType("information"), 4);
  assert.equal(EVENT_SOURCE, "UserSessionMonService");
  assert.equal(
    EVENT_SOURCE_KEY,
    "SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\UserSessionMonService",
  );
  const values = Object.fromEntries(sourceValues().map((v) => [v.name, v]));
  assert.equal(values.EventMessageFile.type, 2, "REG_EXPAND_SZ: %SystemRoot% is expanded");
  assert.equal(
    new TextDecoder("utf-16le").decode(values.EventMessageFile.data),
    `${EVENT_MESSAGE_FILE}\0`,
  );
  assert.deepEqual([...values.TypesSupported.data], [7, 0, 0, 0]);
  assert.deepEqual([...values.CustomSource.data], [1, 0, 0, 0]);
});

/** The Wine version, or undefined on Windows. */
function wineVersion(): string | undefined {
  try {
    const ntdll = Deno.dlopen("ntdll.dll", {
      wine_get_version: { parameters: [], result: "pointer" },
    });
    try {
      const pointer = ntdll.symbols.wine_get_version();
      return pointer ? new Deno.UnsafePointerView(pointer).getCString() : undefined;
    } finally {
      ntdll.close();
    }
  } catch {
    return undefined;
  }
}

async function regQuery(): Promise<{ ok: boolean; text: string }> {
  const { success, stdout } = await new Deno.Command("reg", {
    args: ["query", `HKLM\\${EVENT_SOURCE_KEY}`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return { ok: success, text: new TextDecoder().decode(stdout) };
}

Deno.test({
  name: "event source: registered, written to through ReportEventW, removed",
  ignore,
  async fn() {
    unregisterEventSource();
    try {
      registerEventSource();
      registerEventSource(); // idempotent: an upgrade registers again
      const registered = await regQuery();
      assert.ok(registered.ok, "the source's key exists");
      assert.match(
        registered.text,
        /EventMessageFile\s+REG_EXPAND_SZ\s+%SystemRoot%\\System32\\EventCreate\.exe/,
      );
      assert.match(registered.text, /TypesSupported\s+REG_DWORD\s+0x7/);

      const wine = wineVersion();
      const before = (() => {
        try {
          return eventLogRecordCount();
        } catch (error) {
          if (!wine) throw error;
          return undefined; // Wine: see below
        }
      })();
      const log = WindowsEventLog.open();
      try {
        const started = startedEvent({
          version: "0.0.0",
          serverUrl: "https://x",
          installDir: "C:\\x",
        });
        log.write(started.id, started.level, started.text);
        log.write(EVENT_IDS.sendingPaused, "warning", "Sending paused: test");
        log.write(EVENT_IDS.journalUnwritable, "error", "event_log.csv cannot be written: test");
        log.report(EVENT_IDS.stopped, "information", "stopped");
      } finally {
        log.close();
        log.close(); // idempotent
      }
      if (wine) {
        // Wine's advapi32 accepts the calls (RegisterEventSourceW returns a handle, ReportEventW
        // TRUE) and stores nothing: there is no Application log to read back.
        console.log(
          `Wine ${wine}: ReportEventW succeeded; record count before ${before}, after ${
            (() => {
              try {
                return eventLogRecordCount();
              } catch (error) {
                return (error as Error).message;
              }
            })()
          }`,
        );
      } else {
        assert.equal(eventLogRecordCount(), before! + 4, "four records in the Application log");
      }
    } finally {
      assert.equal(unregisterEventSource(), true);
      assert.equal(unregisterEventSource(), false, "gone");
      assert.equal((await regQuery()).ok, false);
    }
  },
});
