/** The log format this build writes (SPEC §7). 2: a closing record ends a finished run's log. */
export const LOG_FORMAT_VERSION = 2;
/** The model's version: logs made by another model version may replay differently. */
export const MODEL_VERSION = '0.4.0';
