// The TWDSL extension: highlighting and configuration are declared in package.json; this file
// runs the language client, which starts `twdsl lsp` over stdio and restarts it on request or
// when its settings change, and offers the static snippets while no server runs.

import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  LanguageClientOptions,
  MessageSignature,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";

import { ClientLog } from "./channel";
import { registerDebugger } from "./debugAdapter";
import {
  ServerCommand,
  ServerCommandError,
  exitedMessage,
  findExecutable,
  notFoundMessage,
  resolveServerCommand,
  userHome,
} from "./server";
import { readSnippets } from "./snippets";

const CLIENT_ID = "twdsl"; // also makes the client read `twdsl.trace.server`
const CLIENT_NAME = "TWDSL Language Server";
const MAX_RESTARTS = 4; // crashes within RESTART_WINDOW_MS before giving up
const RESTART_WINDOW_MS = 3 * 60 * 1000;

/**
 * The language client, quiet about requests that race a stop. On a restart VS Code keeps
 * asking (highlights, hovers) until the old client is disposed; a request that arrives as it
 * stops fails with "Starting server failed", which the base class logs as an error.
 */
class TwdslClient extends LanguageClient {
  override handleFailedRequest<T>(
    type: MessageSignature,
    token: vscode.CancellationToken | undefined,
    error: unknown,
    defaultValue: T,
    showNotification?: boolean,
  ): T {
    if (!this.isRunning()) {
      return defaultValue;
    }
    return super.handleFailedRequest(type, token, error, defaultValue, showNotification);
  }
}

let client: LanguageClient | undefined;
let outputChannel: vscode.LogOutputChannel | undefined;
// Starts and stops run one after another, so that a restart never races a start.
let queue: Promise<void> = Promise.resolve();

export function activate(context: vscode.ExtensionContext): void {
  outputChannel = vscode.window.createOutputChannel(CLIENT_NAME, { log: true });
  context.subscriptions.push(
    outputChannel,
    vscode.commands.registerCommand("twdsl.restartServer", () => enqueue(restart)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("twdsl.server")) {
        void enqueue(restart);
      }
    }),
    vscode.languages.registerCompletionItemProvider("twdsl", snippetProvider(context)),
  );
  registerDebugger(context); // `twdsl debug` for launch configurations of type "twdsl"
  void enqueue(start);
}

/**
 * The snippets of snippets/twdsl.json while the server is not running (not installed, not
 * started yet, stopped). A running server offers the snippets that fit where the cursor is.
 */
function snippetProvider(context: vscode.ExtensionContext): vscode.CompletionItemProvider {
  let items: vscode.CompletionItem[] | undefined;
  return {
    provideCompletionItems() {
      if (client?.isRunning()) {
        return undefined;
      }
      items ??= readSnippets(context.asAbsolutePath("snippets/twdsl.json")).map((s) => {
        const item = new vscode.CompletionItem(s.prefix, vscode.CompletionItemKind.Snippet);
        item.insertText = new vscode.SnippetString(s.body);
        item.detail = s.description;
        item.documentation = new vscode.MarkdownString().appendCodeblock(s.body, "twdsl");
        return item;
      });
      return items;
    },
  };
}

/** The channel given to the language client: its lines keep their level in the log channel. */
function clientChannel(log: vscode.LogOutputChannel): vscode.OutputChannel {
  const entries = new ClientLog(log);
  return {
    name: log.name,
    append: (value) => entries.append(value),
    appendLine: (value) => entries.appendLine(value),
    replace: (value) => log.replace(value),
    clear: () => log.clear(),
    show: (columnOrPreserveFocus?: vscode.ViewColumn | boolean, preserveFocus?: boolean) =>
      log.show(typeof columnOrPreserveFocus === "boolean" ? columnOrPreserveFocus : preserveFocus),
    hide: () => log.hide(),
    dispose: () => undefined, // the log channel is the extension's, disposed with it
  };
}

export function deactivate(): Promise<void> {
  return enqueue(stop);
}

function enqueue(step: () => Promise<void>): Promise<void> {
  queue = queue.then(step, step);
  return queue;
}

async function restart(): Promise<void> {
  await stop();
  await start();
}

async function stop(): Promise<void> {
  const running = client;
  client = undefined;
  if (running === undefined) {
    return;
  }
  try {
    if (running.needsStop()) {
      await running.stop(2000);
    }
  } catch (err) {
    outputChannel?.warn(`stopping the server: ${String(err)}`);
  }
  await running.dispose().catch(() => undefined);
}

/** The server command from the settings of the first workspace folder (or the user's). */
function serverCommand(): { cmd: ServerCommand; cwd: string | undefined } {
  const folder = vscode.workspace.workspaceFolders?.[0];
  const config = vscode.workspace.getConfiguration("twdsl", folder);
  const cwd = folder?.uri.scheme === "file" ? folder.uri.fsPath : undefined;
  const cmd = resolveServerCommand(
    {
      command: config.get<string[]>("server.command") ?? [],
      pythonPath: config.get<string>("server.pythonPath") ?? "",
    },
    { workspaceFolder: cwd, userHome: userHome() },
  );
  return { cmd, cwd };
}

async function start(): Promise<void> {
  const channel = outputChannel;
  if (channel === undefined) {
    return;
  }
  let resolved: { cmd: ServerCommand; cwd: string | undefined };
  try {
    resolved = serverCommand();
  } catch (err) {
    if (err instanceof ServerCommandError) {
      void showStartError(`TWDSL: ${err.message}`);
      return;
    }
    throw err;
  }
  const { cmd, cwd } = resolved;
  if (findExecutable(cmd.command, process.env.PATH, cwd) === undefined) {
    channel.error(notFoundMessage(cmd));
    void showStartError(notFoundMessage(cmd));
    return;
  }
  channel.info(`starting: ${[cmd.command, ...cmd.args].join(" ")}${cwd ? ` (in ${cwd})` : ""}`);

  // With TransportKind.stdio the client appends `--stdio` to the arguments (`twdsl lsp`
  // accepts it: stdio is its default).
  const run = {
    command: cmd.command,
    args: cmd.args,
    transport: TransportKind.stdio,
    options: { cwd, env: { ...process.env, PYTHONUNBUFFERED: "1" } },
  } as const;
  const serverOptions: ServerOptions = { run, debug: run };

  let ready = false;
  const crashes: number[] = [];
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "twdsl" },
      { scheme: "untitled", language: "twdsl" },
    ],
    // No `synchronize.fileEvents`: the server registers the files it watches itself
    // (twdsl.toml, pyproject.toml, *.twdsl), as it does with any client that allows it.
    outputChannel: clientChannel(channel),
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    errorHandler: {
      error: (_error, _message, count) => ({
        action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
      }),
      closed: () => {
        if (!ready) {
          // It never answered `initialize`: restarting would fail the same way.
          return { action: CloseAction.DoNotRestart, handled: true };
        }
        const now = Date.now();
        crashes.push(now);
        while (crashes.length > 0 && now - crashes[0] > RESTART_WINDOW_MS) {
          crashes.shift();
        }
        if (crashes.length > MAX_RESTARTS) {
          return {
            action: CloseAction.DoNotRestart,
            message:
              `The TWDSL language server stopped ${crashes.length} times in the last 3 minutes ` +
              'and will not be restarted. Run "TWDSL: Restart Language Server" after fixing it.',
          };
        }
        return { action: CloseAction.Restart };
      },
    },
  };

  const created = new TwdslClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
  created.onDidChangeState((event) => {
    if (event.newState === State.Running) {
      ready = true;
    }
  });
  client = created;
  try {
    await created.start();
  } catch (err) {
    channel.error(`the server did not start: ${String(err)}`);
    if (client === created) {
      client = undefined;
    }
    await created.dispose().catch(() => undefined);
    void showStartError(exitedMessage(cmd));
  }
}

async function showStartError(message: string): Promise<void> {
  const settings = "Open Settings";
  const output = "Show Output";
  const choice = await vscode.window.showErrorMessage(message, settings, output);
  if (choice === settings) {
    await vscode.commands.executeCommand("workbench.action.openSettings", "twdsl.server");
  } else if (choice === output) {
    outputChannel?.show();
  }
}
