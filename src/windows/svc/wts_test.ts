import assert from "node:assert/strict";
import { systemClock } from "../../clock.ts";
import type { SessionDetails } from "./session_map.ts";
import { enumerateWhenReady, readPresentSessions, type WtsSession } from "./wts.ts";

function synthetic(count: number): WtsSession[] {
  return Array.from({ length: count + 1 }, (_, id) => ({
    sessionId: id,
    winStationName: id === 0 ? "Services" : `RDP-Tcp#${id}`,
    state: id % 5 === 0 ? 4 : 0,
  }));
}

function details(id: number): SessionDetails {
  return {
    sessionId: id,
    state: id % 5 === 0 ? 4 : 0,
    flags: 1,
    winStationName: `RDP-Tcp#${id}`,
    userName: `user${id}`,
    domainName: "CORP",
    logonTime: Date.UTC(2025, 0, 14, 8, 0, id % 60),
    connectTime: 0,
  };
}

Deno.test("reading 500 sessions yields to the event loop: a control queued meanwhile runs before the end", async () => {
  const queried: number[] = [];
  const controls: number[] = [];
  let control: Promise<void> | undefined;
  const present = (await readPresentSessions({
    enumerate: () => synthetic(500),
    query: (id) => {
      queried.push(id);
      if (id === 3) {
        // What HandlerEx does: its call reaches the event loop as a task of its own.
        control = new Promise((resolve) =>
          systemClock.after(0, () => {
            controls.push(queried.length);
            resolve();
          })
        );
      }
      // Each session costs two system calls: at least a millisecond here.
      const end = systemClock.monotonic() + 1;
      while (systemClock.monotonic() < end) { /* busy, as a synchronous FFI call is */ }
      return details(id);
    },
  }))!;
  await control;
  assert.equal(present.length, 500);
  assert.equal(queried.length, 500, "session 0 is never queried");
  assert.equal(controls.length, 1);
  assert.ok(
    controls[0] < 500,
    `the control ran after ${controls[0]} of 500 sessions, not after all of them`,
  );
  assert.equal(present.filter((p) => p.state === "disconnected").length, 100);
  assert.equal(present[0].locked, false);
});

Deno.test("a session that cannot be read and is still there fails the snapshot instead of leaving its user out", async () => {
  await assert.rejects(
    readPresentSessions({
      enumerate: () => synthetic(3),
      query: (id) => {
        if (id === 2) throw new Error("WTSQuerySessionInformationW failed");
        return details(id);
      },
    }),
    /WTSQuerySessionInformationW failed/,
  );
  assert.equal(await readPresentSessions({ enumerate: () => undefined }), undefined);
});

Deno.test("a session gone between the enumeration and its query is left out; the others are read", async () => {
  let enumerations = 0;
  const present = await readPresentSessions({
    enumerate: () => {
      enumerations++;
      // The second enumeration (after the failed query) no longer lists session 2.
      return synthetic(3).filter((s) => enumerations === 1 || s.sessionId !== 2);
    },
    query: (id) => {
      if (id === 2) throw new Error("WTSQuerySessionInformationW failed: session logged off");
      return details(id);
    },
  });
  assert.deepEqual(present?.map((p) => p.session), [1, 3]);
});

Deno.test("sessions are filtered on their state first: the listener and idle sessions are never queried", async () => {
  const queried: number[] = [];
  const present = await readPresentSessions({
    enumerate: () => [
      { sessionId: 0, winStationName: "Services", state: 4 },
      { sessionId: 1, winStationName: "Console", state: 0 },
      { sessionId: 2, winStationName: "", state: 5 }, // WTSIdle
      { sessionId: 3, winStationName: "RDP-Tcp#1", state: 4 },
      { sessionId: 65536, winStationName: "RDP-Tcp", state: 6 }, // WTSListen
    ],
    query: (id) => {
      queried.push(id);
      if (id === 65536) throw new Error("the listener has no session information");
      return { ...details(id), state: id === 3 ? 4 : 0 };
    },
  });
  assert.deepEqual(queried, [1, 3]);
  assert.deepEqual(present?.map((p) => [p.session, p.state]), [[1, "active"], [3, "disconnected"]]);
});

Deno.test({
  name: "Terminal Services' ready event that exists but is never set: the enumeration runs anyway",
  ignore: Deno.build.os !== "windows",
  async fn() {
    const k32 = Deno.dlopen("C:\\Windows\\System32\\kernel32.dll", {
      CreateEventW: { parameters: ["pointer", "i32", "i32", "buffer"], result: "pointer" },
      CloseHandle: { parameters: ["pointer"], result: "i32" },
    });
    const name = `Local\\usm-test-never-set-${Deno.pid}`;
    const wideName = new Uint16Array([...name].map((c) => c.charCodeAt(0)).concat(0));
    const handle = k32.symbols.CreateEventW(null, 1, 0, wideName);
    assert.notEqual(handle, null);
    try {
      let enumerated = 0;
      const sessions = await enumerateWhenReady(1_500, {
        eventName: name,
        enumerate: () => {
          enumerated++;
          return synthetic(2);
        },
      });
      assert.equal(enumerated, 1, "enumerated once, after the wait");
      assert.equal(sessions?.length, 3);
    } finally {
      k32.symbols.CloseHandle(handle);
      k32.close();
    }
  },
});

Deno.test({
  name: "the real enumeration and session queries answer (Wine: no sessions)",
  ignore: Deno.build.os !== "windows",
  async fn() {
    const present = await readPresentSessions();
    assert.ok(Array.isArray(present));
    for (const session of present) {
      assert.notEqual(session.session, 0, "session 0 is never a user's");
      assert.ok(session.user.trim() !== "");
      assert.ok(session.state === "active" || session.state === "disconnected");
    }
  },
});
