// The language client writes plain lines into its output channel: "[Error - 12:51:34 PM]
// Server process exited with code 0.", the server's log messages with their level, the
// server's stderr. The extension's channel is a log channel (levels, timestamps, a level
// filter), so this adapter gives each line its level there instead of printing the client's
// own prefix inside an [info] line.
//
// It also keeps a normal stop from showing as an error: the client reports every exit of
// the server as an error, including the clean one (code 0) that follows `shutdown` and
// `exit` on a restart.
//
// No `vscode` import: tests/unit/channel.test.ts tests it with plain Node.

/** The levels of a VS Code LogOutputChannel (the part this module writes to). */
export interface Log {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

type Level = keyof Log;

const PREFIX = /^\[(Trace|Debug|Info|Warn|Error|LSP)\s*- [^\]]*\] ?([\s\S]*)$/;
const LEVELS: Record<string, Level> = {
  Trace: "info", // traces are asked for with twdsl.trace.server: shown at the default level
  LSP: "info",
  Debug: "debug",
  Info: "info",
  Warn: "warn",
  Error: "error",
};

/** A clean exit of the server (after `shutdown` and `exit`): not an error. */
const CLEAN_EXIT = /^Server process exited with code 0\.$/;

/** The level and text of one entry the language client wrote. */
export function classify(entry: string): { level: Level; message: string } {
  const match = PREFIX.exec(entry);
  if (match === null) {
    return { level: "info", message: entry }; // the server's stderr, or a message's data
  }
  const [, tag, message] = match;
  if (tag === "Error" && CLEAN_EXIT.test(message)) {
    return { level: "info", message };
  }
  return { level: LEVELS[tag], message };
}

/**
 * What the language client needs of an output channel (append, appendLine), writing to a log
 * channel with the level of each entry. `append` is buffered until a line ends (stderr comes
 * in chunks, a trace line in two calls); `appendLine` ends the entry, which may span lines
 * (a traceback).
 */
export class ClientLog {
  private pending = "";

  constructor(private readonly log: Log) {}

  append(text: string): void {
    this.pending += text;
    const end = this.pending.lastIndexOf("\n");
    if (end < 0) {
      return;
    }
    const lines = this.pending.slice(0, end).split("\n");
    this.pending = this.pending.slice(end + 1);
    for (const line of lines) {
      this.write(line);
    }
  }

  appendLine(text: string): void {
    const entry = this.pending + text;
    this.pending = "";
    this.write(entry);
  }

  private write(entry: string): void {
    if (entry.trim() === "") {
      return;
    }
    const { level, message } = classify(entry.replace(/\s+$/, ""));
    this.log[level](message);
  }
}
