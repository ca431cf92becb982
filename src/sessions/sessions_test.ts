import assert from "node:assert/strict";
import type { EventType, SessionEvent } from "../event.ts";
import type { PresentSession, SessionChange } from "../platform.ts";
import { type InferenceSettings, OpenSessions, translateChange } from "./sessions.ts";
import { planAtShutdown, planAtStart } from "./inference.ts";

const ON: InferenceSettings = {
  logonAtStart: true,
  logoffAtShutdown: true,
  logoffAfterUncleanStop: true,
  disconnectEvents: "lock",
};

function ms(time: string): number {
  return Temporal.Instant.from(`2025-01-14T${time}Z`).epochMilliseconds;
}

function event(type: EventType, user: string, time: string): SessionEvent {
  return {
    eventType: type,
    userName: user,
    computerName: "PC",
    ipAddress: "10.0.0.5",
    timestamp: `2025-01-14T${time}Z`,
  };
}

function present(user: string, session: number, extra: Partial<PresentSession> = {}) {
  return { user, session, state: "active", ...extra } as PresentSession;
}

function summary(planned: { change: { type: string; user: string; at: Temporal.Instant } }[]) {
  return planned.map(({ change }) => `${change.type} ${change.user} ${change.at}`);
}

Deno.test("the view is each user's latest event; rotation's carried copies count once", () => {
  const view = OpenSessions.fromEvents([
    event("Logon", "alice", "08:00:00"),
    event("Logoff", "alice", "12:00:00"),
    event("Logon", "bob", "09:00:00"),
    event("Lock", "bob", "10:00:00"),
    // the live file after a rotation starts with a pending row carried over
    event("Logon", "alice", "08:00:00"),
  ]);
  assert.equal(view.get("alice")?.last, "Logoff");
  assert.deepEqual(view.open().map(([user, s]) => `${user} ${s.last}`), ["bob Lock"]);
});

Deno.test("at start: a logon not recorded gets its true time; one recorded adds nothing", () => {
  const view = OpenSessions.fromEvents([event("Logon", "bob", "07:00:00")]);
  const planned = planAtStart(view, [
    present("alice", 2, { logonAt: Temporal.Instant.from("2025-01-14T08:00:00Z") }),
    present("bob", 3, { logonAt: Temporal.Instant.from("2025-01-14T07:00:00Z") }),
  ], { settings: ON, now: ms("10:00:00") });
  assert.deepEqual(summary(planned), ["logon alice 2025-01-14T08:00:00Z"]);
  assert.match(planned[0].reason, /learnt late.*logon time/);
  assert.deepEqual(
    planAtStart(view, [present("alice", 2), present("bob", 3)], {
      settings: ON,
      now: ms("11:00:00"),
    }),
    [],
  );
});

Deno.test("at start: a logon time before the user's last event gives way to the connect time, then to now", () => {
  const view = OpenSessions.fromEvents([event("Logoff", "alice", "12:00:00")]);
  const logonAt = Temporal.Instant.from("2025-01-14T08:00:00Z");
  assert.deepEqual(
    summary(
      planAtStart(view, [
        present("alice", 2, {
          logonAt,
          connectedAt: Temporal.Instant.from("2025-01-14T13:00:00Z"),
        }),
      ], {
        settings: ON,
        now: ms("14:00:00"),
      }),
    ),
    ["logon alice 2025-01-14T13:00:00Z"],
  );
  const again = OpenSessions.fromEvents([event("Logoff", "alice", "12:00:00")]);
  assert.deepEqual(
    summary(
      planAtStart(again, [present("alice", 2, { logonAt })], { settings: ON, now: ms("14:00:00") }),
    ),
    ["logon alice 2025-01-14T14:00:00Z"],
  );
});

Deno.test("at start: a locked session gets a Lock after its Logon", () => {
  const planned = planAtStart(new OpenSessions(), [present("alice", 2, { locked: true })], {
    settings: ON,
    now: ms("10:00:00"),
  });
  assert.deepEqual(summary(planned), [
    "logon alice 2025-01-14T10:00:00Z",
    "lock alice 2025-01-14T10:00:00Z",
  ]);
});

Deno.test("at start: a session gone gets a Logoff at the last time known alive, said so", async (t) => {
  await t.step("from sessions.json", () => {
    const view = OpenSessions.fromEvents([event("Logon", "alice", "08:00:00")]);
    const planned = planAtStart(view, [], {
      settings: ON,
      now: ms("18:00:00"),
      alive: { aliveAt: ms("12:00:30"), disconnected: [] },
    });
    assert.deepEqual(summary(planned), ["logoff alice 2025-01-14T12:00:30Z"]);
    assert.match(planned[0].reason, /inferred: .*no longer exists.*12:00:30Z \(sessions\.json\)/);
  });
  await t.step("an event later than sessions.json wins", () => {
    const view = OpenSessions.fromEvents([event("Unlock", "alice", "12:05:00")]);
    const planned = planAtStart(view, [], {
      settings: ON,
      now: ms("18:00:00"),
      alive: { aliveAt: ms("12:00:00"), disconnected: [] },
    });
    assert.deepEqual(summary(planned), ["logoff alice 2025-01-14T12:05:00Z"]);
  });
  await t.step("turned off", () => {
    const view = OpenSessions.fromEvents([event("Logon", "alice", "08:00:00")]);
    assert.deepEqual(
      planAtStart(view, [], {
        settings: { ...ON, logoffAfterUncleanStop: false },
        now: ms("18:00:00"),
      }),
      [],
    );
  });
});

Deno.test("at start: users with a real event after the snapshot was asked for are left alone", () => {
  const view = new OpenSessions();
  const since = view.generation;
  view.note("Logoff", "alice", ms("09:00:00"));
  assert.deepEqual(
    planAtStart(view, [present("alice", 2)], { settings: ON, now: ms("09:00:01"), since }),
    [],
  );
});

Deno.test("at shutdown every open user, locked ones too, gets a Logoff; turned off, none", () => {
  const events = [
    event("Logon", "alice", "08:00:00"),
    event("Logon", "bob", "09:00:00"),
    event("Lock", "bob", "12:00:00"),
    event("Logon", "carol", "09:00:00"),
    event("Logoff", "carol", "11:00:00"),
  ];
  assert.deepEqual(
    summary(planAtShutdown(OpenSessions.fromEvents(events), { now: ms("17:30:00"), settings: ON })),
    [
      "logoff alice 2025-01-14T17:30:00Z",
      "logoff bob 2025-01-14T17:30:00Z",
    ],
  );
  assert.deepEqual(
    planAtShutdown(OpenSessions.fromEvents(events), {
      now: ms("17:30:00"),
      settings: { logoffAtShutdown: false },
    }),
    [],
  );
});

Deno.test("an inferred event never has the five fields of one already recorded", () => {
  const view = OpenSessions.fromEvents([
    event("Logon", "alice", "08:00:00"),
    event("Logoff", "alice", "17:30:00"),
    event("Logon", "alice", "17:30:00"),
  ]);
  const [logoff] = planAtShutdown(view, { now: ms("17:30:00"), settings: ON });
  assert.equal(logoff.change.at.toString(), "2025-01-14T17:30:01Z");
  assert.equal(
    view.freeInstant("Logon", "alice", ms("07:00:00")),
    ms("17:30:01") + 0,
    "never before the latest",
  );
});

Deno.test("disconnect and reconnect per policy", async (t) => {
  const at = Temporal.Instant.from("2025-01-14T17:00:00Z");
  const c = (type: SessionChange["type"], user = "alice"): SessionChange => ({
    type,
    user,
    session: 2,
    at,
  });
  const cases: [
    string,
    "lock" | "logoff" | "none",
    EventType[],
    SessionChange["type"][],
    (string | undefined)[],
  ][] = [
    ["lock: working, gone, back", "lock", ["Logon"], ["disconnect", "reconnect"], [
      "lock",
      "unlock",
    ]],
    ["logoff: working, gone, back", "logoff", ["Logon"], ["disconnect", "reconnect"], [
      "logoff",
      "logon",
    ]],
    ["none", "none", ["Logon"], ["disconnect", "reconnect"], [undefined, undefined]],
    ["locked before the disconnect: the real unlock starts", "lock", ["Logon", "Lock"], [
      "disconnect",
      "reconnect",
    ], [undefined, undefined]],
    ["a reconnect without a disconnect", "lock", ["Logon"], ["reconnect"], [undefined]],
    ["a user never seen", "lock", [], ["disconnect", "reconnect"], [undefined, undefined]],
  ];
  for (const [name, policy, before, changes, expected] of cases) {
    await t.step(name, () => {
      const view = OpenSessions.fromEvents(
        before.map((type, i) => event(type, "alice", `08:0${i}:00`)),
      );
      const got = changes.map((type) => {
        const out = translateChange(view, c(type), { policy });
        if (out) {
          view.note(
            (out.type[0].toUpperCase() + out.type.slice(1)) as EventType,
            out.user,
            out.at.epochMilliseconds,
          );
        }
        return out?.type;
      });
      assert.deepEqual(got, expected);
    });
  }
  await t.step("the four real types pass unchanged", () => {
    const view = new OpenSessions();
    for (const type of ["logon", "logoff", "lock", "unlock"] as const) {
      assert.deepEqual(translateChange(view, c(type), { policy: "lock" }), c(type));
    }
  });
});

Deno.test("a user's logoff is recorded only when their last session ends", () => {
  const view = new OpenSessions();
  const at = (minute: number) => Temporal.Instant.from(`2025-01-14T08:0${minute}:00Z`);
  const change = (type: SessionChange["type"], session: number, minute: number) => ({
    type,
    user: "alice",
    session,
    at: at(minute),
  });
  const record = (incoming: SessionChange) => {
    const out = translateChange(view, incoming, { policy: "lock" });
    if (out) {
      const type = (out.type[0].toUpperCase() + out.type.slice(1)) as EventType;
      view.note(type, out.user, out.at.epochMilliseconds, out.session);
    }
    return out?.type;
  };
  assert.equal(record(change("logon", 3, 0)), "logon");
  assert.equal(record(change("logon", 4, 1)), "logon");
  assert.equal(record(change("logoff", 3, 2)), undefined, "session 4 is still open");
  assert.equal(record(change("logoff", 4, 3)), "logoff");
  assert.equal(view.get("alice")?.sessions.size, 0);
  // Two sessions opened in the same second (their Logons are one event to the server).
  assert.equal(record(change("logon", 6, 4)), "logon");
  assert.equal(record(change("logon", 7, 4)), "logon");
  assert.equal(record(change("logoff", 6, 5)), undefined, "session 7 is still open");
  assert.equal(record(change("logoff", 7, 6)), "logoff");
});
