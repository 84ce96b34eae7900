// Starts `netlang lsp` (stdio) for .net files; the command is the `netlang.server.command`
// setting, so a project's own virtual environment can be used.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace
    .getConfiguration("netlang")
    .get("server.command", ["netlang", "lsp"]);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient(
    "netlang",
    "netlang language server",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "netlang" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
