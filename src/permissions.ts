/**
 * What the agent may do, and nothing more, in one place for `deno task start`, the compiled exe,
 * the Windows service's development-mode command line and the tests: files (its folder,
 * config.ini to import, the exe it copies at install), the network (the server, the public IP
 * services), environment variables (%ProgramData%), system facts (hostname, network interfaces)
 * and FFI (advapi32, wtsapi32, kernel32). It runs no subprocess.
 *
 * @module
 */

/** The agent's Deno permission flags. */
export const AGENT_PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-sys",
  "--allow-ffi",
];
