import assert from "node:assert/strict";
import type { Clock } from "../../clock.ts";
import { Win32Error } from "../../../ffi/error.ts";
import { isPending, startWhenStable, stopWhenStable } from "./service_control.ts";

const STOPPED = 1, START_PENDING = 2, STOP_PENDING = 3, RUNNING = 4;

/** A clock whose sleep moves time at once (the logic's waits, without waiting). */
function steppingClock(): Clock & { now: number } {
  const clock = {
    now: 0,
    monotonic: () => clock.now,
    wallNow: () => clock.now,
    random: () => 0.5,
    sleep(ms: number) {
      clock.now += ms;
      return Promise.resolve();
    },
    after: () => ({ cancel() {} }),
    every: () => ({ cancel() {} }),
  };
  return clock;
}

/**
 * A fake service manager: the service sits in `state` and moves on by itself at given times
 * (a pending state ending); a control while pending is refused with 1061 as Windows does.
 */
class FakeScm {
  state: number;
  pid = 4242;
  calls: string[] = [];
  #clock: { now: number };
  #schedule: [number, number][];
  /** What a STOP or START turns the state into, and after how long it settles. */
  stopTakesMs = 300;
  startTakesMs = 300;
  /** Whether the error code of a refusal is lost (GetLastError read 0 through FFI). */
  loseCode = false;

  constructor(clock: { now: number }, state: number, schedule: [number, number][] = []) {
    this.#clock = clock;
    this.state = state;
    this.#schedule = schedule;
  }

  #advance(): void {
    while (this.#schedule.length > 0 && this.#schedule[0][0] <= this.#clock.now) {
      this.state = this.#schedule.shift()![1];
    }
  }

  #refuse(fn: string, code: number): never {
    throw new Win32Error(fn, this.loseCode ? 0 : code, { systemMessage: "refused" });
  }

  query() {
    this.#advance();
    this.calls.push(`query:${this.state}`);
    return { currentState: this.state, processId: this.state === STOPPED ? 0 : this.pid };
  }

  stop(): void {
    this.#advance();
    this.calls.push("stop");
    if (isPending(this.state)) this.#refuse("ControlService", 1061);
    if (this.state === STOPPED) this.#refuse("ControlService", 1062);
    this.state = STOP_PENDING;
    this.schedule(this.#clock.now + this.stopTakesMs, STOPPED);
  }

  start(): void {
    this.#advance();
    this.calls.push("start");
    if (this.state !== STOPPED) this.#refuse("StartServiceW", 1056);
    this.state = START_PENDING;
    this.schedule(this.#clock.now + this.startTakesMs, RUNNING);
  }

  /** The state becomes `state` at virtual time `at`. */
  schedule(at: number, state: number): void {
    this.#schedule.push([at, state]);
    this.#schedule.sort((a, b) => a[0] - b[0]);
  }
}

Deno.test("stop waits out a start in progress, then stops (no 1061 abort)", async () => {
  const clock = steppingClock();
  const scm = new FakeScm(clock, START_PENDING, [[2_000, RUNNING]]);
  const status = await stopWhenStable(scm, { clock });
  assert.equal(status.currentState, STOPPED);
  assert.equal(status.ranAsPid, 4242);
  assert.equal(scm.calls.filter((c) => c === "stop").length, 1, "STOP sent once, when stable");
  assert.ok(clock.now >= 2_000);
});

Deno.test("stop retries when the service turns pending as the control is sent, code lost", async () => {
  const clock = steppingClock();
  const scm = new FakeScm(clock, RUNNING);
  scm.loseCode = true; // the refusal's GetLastError reads 0: the state decides
  const stop = scm.stop.bind(scm);
  let first = true;
  scm.stop = () => {
    if (first) { // a failure restart begins just as the control is sent
      first = false;
      scm.state = START_PENDING;
      scm.schedule(clock.now + 500, RUNNING);
    }
    stop();
  };
  const status = await stopWhenStable(scm, { clock });
  assert.equal(status.currentState, STOPPED);
  assert.equal(scm.calls.filter((c) => c === "stop").length, 2, "refused once, then sent again");
});

Deno.test("stop of a stopped service sends nothing; a refusal while running is thrown", async () => {
  const clock = steppingClock();
  const stopped = new FakeScm(clock, STOPPED);
  assert.equal((await stopWhenStable(stopped, { clock })).currentState, STOPPED);
  assert.deepEqual(stopped.calls.filter((c) => c === "stop"), []);
  const refusing = {
    query: () => ({ currentState: RUNNING, processId: 1 }),
    start: () => {},
    stop: () => {
      throw new Win32Error("ControlService", 5, { systemMessage: "Access is denied" });
    },
  };
  await assert.rejects(() => stopWhenStable(refusing, { clock }), /Access is denied/);
});

Deno.test("stop gives up at the total cap and returns the pending state", async () => {
  const clock = steppingClock();
  const scm = new FakeScm(clock, RUNNING);
  scm.stopTakesMs = 120_000; // a hung stop
  const status = await stopWhenStable(scm, { clock, timeoutMs: 10_000 });
  assert.equal(status.currentState, STOP_PENDING);
  assert.ok(clock.now >= 10_000 && clock.now < 11_000);
});

Deno.test("start waits for a stop in progress to end, then starts and waits for RUNNING", async () => {
  const clock = steppingClock();
  const scm = new FakeScm(clock, STOP_PENDING, [[1_500, STOPPED]]);
  const status = await startWhenStable(scm, { clock });
  assert.equal(status.currentState, RUNNING);
  assert.equal(scm.calls.filter((c) => c === "start").length, 1);
});

Deno.test("start of a running service sends nothing; a failed start ends at STOPPED", async () => {
  const clock = steppingClock();
  const running = new FakeScm(clock, RUNNING);
  assert.equal((await startWhenStable(running, { clock })).currentState, RUNNING);
  assert.deepEqual(running.calls.filter((c) => c === "start"), []);
  const failing = new FakeScm(clock, STOPPED);
  failing.start = () => {
    failing.calls.push("start");
    failing.state = START_PENDING;
    failing.schedule(clock.now + 200, STOPPED); // the agent could not start
  };
  const status = await startWhenStable(failing, { clock, timeoutMs: 5_000 });
  assert.equal(status.currentState, STOPPED);
  assert.ok(clock.now < 5_000, "a start that fell back to STOPPED is not waited out");
});
