/**
 * The agent's exit codes, named in one place.
 *
 * @module
 */

/**
 * Service-specific exit codes, reported with ERROR_SERVICE_SPECIFIC_ERROR (1066) when the agent
 * cannot start (`sc query` shows them as SERVICE_EXIT_CODE).
 */
export const SERVICE_EXIT_CODES = {
  /** Another agent is already running with the install folder (its agent.lock is held). */
  alreadyRunning: 1,
  /** The install folder cannot be created, secured or written. */
  installDirNotWritable: 2,
  /** event_log.csv cannot be opened. */
  journalUnavailable: 3,
  /** Anything else (error.log says what). */
  unexpected: 10,
} as const;
