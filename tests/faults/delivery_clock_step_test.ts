/**
 * The system clock stepped while the agent waits. Every wait and deadline is on
 * the monotonic clock, so a rate-limit wait of a few seconds lasts a few seconds whether the
 * wall clock jumps back 30 days or forward, and no timer overflows.
 *
 * The real agent process runs under libfaketime (Debian package `faketime`): LD_PRELOAD fakes
 * the wall clock only (FAKETIME_DONT_FAKE_MONOTONIC=1) from a file the test rewrites mid-run,
 * which is how an administrator's `date -s` or an NTP step looks to the process. Skipped where
 * the library is not installed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess } from "../support/agent_process.ts";
import { agentDir, eventually, journalRows } from "../support/files.ts";
import { HostileServer, replies, writeAgentConfig } from "../support/hostile_server.ts";

const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

function hasFaketime(): boolean {
  try {
    return Deno.build.os === "linux" && Deno.statSync(LIBFAKETIME).isFile;
  } catch {
    return false;
  }
}

for (const step of ["-30d", "-1h", "+2d"]) {
  Deno.test({
    name: `a rate-limit wait lasts its seconds when the wall clock steps ${step} meanwhile`,
    ignore: !hasFaketime(),
    async fn() {
      let windowEnd: number | undefined;
      await using server = await HostileServer.start((request) => {
        if (request.path === "/api/health") return replies.healthy();
        // The server's own clock: its window ends 3 s after the first request, and every
        // request before that is answered 429 (a wait cut short by the step shows).
        const now = Date.now();
        if (windowEnd !== undefined && now > windowEnd) return replies.created();
        windowEnd ??= (Math.floor(now / 1000) + 3) * 1000;
        return {
          status: 429,
          headers: {
            "content-type": "application/json",
            "date": new Date(now).toUTCString(),
            "x-ratelimit-limit": "60",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": String(windowEnd / 1000),
          },
          body:
            '{"error":"Too many requests","message":"Rate limit of 60 requests per 60 seconds exceeded"}\n',
        };
      });
      const { dir, config } = await agentDir("usm-fault-clock-");
      const offset = join(dir, "faketime.rc");
      await Deno.writeTextFile(offset, "+0\n");
      await writeAgentConfig(config, server);
      const agent = AgentProcess.start(config, {
        env: {
          LD_PRELOAD: LIBFAKETIME,
          FAKETIME_TIMESTAMP_FILE: offset,
          FAKETIME_NO_CACHE: "1",
          FAKETIME_DONT_FAKE_MONOTONIC: "1",
        },
      });
      try {
        await agent.ready();
        await agent.waitForLine(/Health check \(start\) passed/);
        await agent.feed({ type: "logon", user: "josh", session: 2, at: "2025-04-27T07:06:14Z" });
        await agent.waitForLine(/rate limit was reached/);
        await Deno.writeTextFile(offset, `${step}\n`); // the step, while the agent waits
        const rows = await eventually(
          "the event sent after the wait",
          () => journalRows(dir),
          (r) => r.length === 1 && r[0].status !== 0,
          20_000,
        );
        assert.equal(rows[0].status, 2);
        assert.equal(
          server.on("/api/log_event").length,
          2,
          "one wait, neither cut short nor a busy loop",
        );
        assert.ok(!agent.lines.some((l) => /TimeoutOverflowWarning/.test(l)));
      } finally {
        await agent.stop();
      }
      await Deno.remove(dir, { recursive: true });
    },
  });
}
