/**
 * The service-specific exit codes the agent reports when it cannot start, and the error that
 * carries one. The Windows service host reports them with ERROR_SERVICE_SPECIFIC_ERROR (1066);
 * `sc query` shows them as SERVICE_EXIT_CODE (docs/administration.md, "Service controls and exit codes").
 *
 * @module
 */

/** Service-specific exit codes, reported when the agent cannot start. */
export const SERVICE_EXIT_CODES = {
  /** Another agent is already running with the install folder (its agent.lock is held). */
  alreadyRunning: 1,
  /** The install folder cannot be created, secured or written. */
  installDirNotWritable: 2,
  /** event_log.csv cannot be opened. */
  journalUnavailable: 3,
  /** Anything else (error.log says what). */
  unexpected: 10,
  /** The start did not finish within the service host's cap (Windows service only). */
  startTimedOut: 11,
  /** The stop or shutdown did not finish within the service host's cap (Windows service only). */
  stopTimedOut: 12,
} as const;

/** Why the agent could not start, with the service-specific exit code the service reports. */
export class StartError extends Error {
  override name = "StartError";
  readonly serviceExitCode: number;

  constructor(message: string, serviceExitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.serviceExitCode = serviceExitCode;
  }
}
