/**
 * `--api-key -` typed at a terminal: the key is not echoed. The real CLI runs on a
 * pseudo-terminal (python3's pty module opens it, the one part not in Deno); the test types the
 * key after the prompt and reads everything the terminal showed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AGENT_PERMISSIONS, MOD_TS } from "../support/agent_process.ts";
import { agentDir, TEST_API_KEY } from "../support/files.ts";

/** Runs argv on a pty, types `typed` once `waitFor` appeared; prints the exit code, then the screen. */
const PTY_DRIVER = `
import os, pty, sys, select, signal
wait_for, typed, argv = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
screen, sent = b"", False
while True:
    ready, _, _ = select.select([fd], [], [], 30)
    if not ready:
        os.kill(pid, signal.SIGKILL)  # no prompt, or no end: the driver gives up
        break
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    screen += chunk
    if not sent and wait_for in screen:
        os.write(fd, typed)
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(str(os.waitstatus_to_exitcode(status)) + "\\n")
sys.stdout.write(screen.decode("utf-8", "replace"))
`;

function hasPython(): boolean {
  try {
    return new Deno.Command("python3", { args: ["-c", "import pty"] }).outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "--api-key - at a terminal: the key typed is not shown, and it is saved",
  ignore: Deno.build.os === "windows" || !hasPython(),
  async fn() {
    const { dir, config } = await agentDir("usm-tty-key-");
    try {
      const output = await new Deno.Command("python3", {
        args: [
          "-c",
          PTY_DRIVER,
          "API key",
          `${TEST_API_KEY}\r`,
          Deno.execPath(),
          "run",
          "-q",
          ...AGENT_PERMISSIONS,
          MOD_TS,
          "--config",
          config,
          "--api-key",
          "-",
        ],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(output.stdout);
      const [code, ...screen] = text.split("\n");
      const shown = screen.join("\n");
      assert.equal(code, "0", shown + new TextDecoder().decode(output.stderr));
      assert.match(shown, /API key \(not shown as you type it/);
      assert.ok(!shown.includes(TEST_API_KEY), `the key was echoed:\n${shown}`);
      assert.ok(!shown.includes(TEST_API_KEY.slice(0, 12)), "part of the key was echoed");
      const ini = await Deno.readTextFile(join(dir, "config.ini"));
      assert.match(ini, new RegExp(`^api_key = ${TEST_API_KEY}$`, "m"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
