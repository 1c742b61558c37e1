/**
 * The error of a log that cannot be used or written: its message is the one line the command prints
 * (exit 2). A module of its own so that both the reader and the file layer (io.ts) can use it without
 * importing each other.
 */
export class LogError extends Error {
  override readonly name: string = 'LogError';
}

/** A log, index or report that could not be written (an I/O error, a lock held, an input in the way). */
export class LogFileError extends LogError {
  override readonly name = 'LogFileError';
}
