"""The protocol side: pygls wiring, and conversion between the compiler's spans and diagnostics
and LSP's ranges and diagnostics. Each document is analysed once per version, on open and
on change; every request reads that analysis."""

from __future__ import annotations

import asyncio
import gc
from importlib.metadata import version
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from netlang.diagnostics import Diagnostic, Severity
from netlang.lsp.analysis import Analysis, analyse, file_path
from netlang.lsp.hover import hover
from netlang.lsp.navigate import Symbol, completions, definition, symbols
from netlang.lsp.reuse import ParseCache
from netlang.semantics.program import Builds
from netlang.diagnostics.source import Position, Span

# How long a change waits for the messages behind it to be read (pygls reads one at a time).
DRAIN_S = 0.003
SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.NOTE: types.DiagnosticSeverity.Information,
}
SYMBOL_KINDS = {
    "model": types.SymbolKind.Class,
    "block": types.SymbolKind.Function,
    "constant": types.SymbolKind.Constant,
    "train": types.SymbolKind.Event,
    "import": types.SymbolKind.Module,
    "layer": types.SymbolKind.Field,
}
COMPLETION_KINDS = {
    "layer": types.CompletionItemKind.Function,
    "block": types.CompletionItemKind.Class,
    "model": types.CompletionItemKind.Module,
    "constant": types.CompletionItemKind.Constant,
    "keyword": types.CompletionItemKind.Keyword,
    "argument": types.CompletionItemKind.Property,
}


class NetlangServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("netlang", version("netlang"))
        self.analyses: dict[str, tuple[int | None, Analysis]] = {}  # uri -> (version, analysis)
        self.good: dict[str, Analysis] = {}  # uri -> the last analysis that parsed
        self.published: dict[str, set[str]] = {}  # uri -> the uris its diagnostics went to
        self.parse = ParseCache()  # shared: an imported file is parsed once per content
        self.builds: dict[str, Builds] = {}  # uri -> its last check's builds
        self.changed: dict[str, int] = {}  # uri -> the version its last change made

    def analysis(self, uri: str) -> Analysis:
        """The analysis of the document's current version (made now if it is stale)."""
        document = self.workspace.get_text_document(uri)
        cached = self.analyses.get(uri)
        if cached is not None and cached[0] == document.version:
            return cached[1]
        name = document.path if uri.startswith("file:") else uri
        result = analyse(name, document.source, self.parse, self.builds.setdefault(uri, {}))
        self.analyses[uri] = (document.version, result)
        if result.program is not None:
            self.good[uri] = result
        return result

    def publish_soon(self, uri: str, version: int) -> None:
        """Publish once the messages already sent are read: when edits arrive faster than
        analyses (fast typing), the versions a newer one replaced are never analysed."""
        self.changed[uri] = version
        asyncio.get_running_loop().call_later(DRAIN_S, self._publish_current, uri, version)

    def _publish_current(self, uri: str, version: int) -> None:
        if self.changed.get(uri) == version:  # not replaced by a newer change, nor closed
            self.publish(uri)

    def publish(self, uri: str) -> None:
        result = self.analysis(uri)
        by_uri: dict[str, list[types.Diagnostic]] = {uri: []}
        for diagnostic in result.diagnostics:
            target = self.uri_of(result, diagnostic.span.file, uri)
            by_uri.setdefault(target, []).append(to_lsp(diagnostic, result, uri, self))
        for stale in self.published.get(uri, set()) - set(by_uri):
            by_uri[stale] = []
        self.published[uri] = {u for u, items in by_uri.items() if items}
        current = self.analyses[uri][0]
        for target, items in by_uri.items():
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(
                    uri=target, diagnostics=items, version=current if target == uri else None
                )
            )

    @staticmethod
    def uri_of(result: Analysis, name: str, root_uri: str) -> str:
        if name == result.source.name:
            return root_uri
        return Path(file_path(name)).resolve().as_uri()


def to_range(span: Span) -> types.Range:
    return types.Range(
        types.Position(span.start.line - 1, span.start.column - 1),
        types.Position(span.end.line - 1, max(span.end.column - 1, 0)),
    )


def to_position(position: types.Position) -> Position:
    return Position(position.line + 1, position.character + 1)


def to_lsp(
    diagnostic: Diagnostic, result: Analysis, root_uri: str, server: NetlangServer
) -> types.Diagnostic:
    """The compiler's diagnostic as LSP's: code, hint and notes in the message, secondary
    labels as related information."""
    message = diagnostic.message
    if diagnostic.hint:
        message += f"\nhint: {diagnostic.hint}"
    message += "".join(f"\nnote: {note}" for note in diagnostic.notes)
    related = [
        types.DiagnosticRelatedInformation(
            types.Location(server.uri_of(result, label.span.file, root_uri), to_range(label.span)),
            label.message or "here",
        )
        for label in diagnostic.labels
        if not label.primary
    ]
    return types.Diagnostic(
        range=to_range(diagnostic.span),
        message=message,
        severity=SEVERITY[diagnostic.severity],
        code=diagnostic.code,
        source="netlang",
        related_information=related or None,
    )


def _symbol(symbol: Symbol) -> types.DocumentSymbol:
    return types.DocumentSymbol(
        name=symbol.name or "?",
        kind=SYMBOL_KINDS[symbol.kind],
        range=to_range(symbol.span),
        selection_range=to_range(symbol.header),
        detail=symbol.detail or None,
        children=[_symbol(child) for child in symbol.children] or None,
    )


def make_server() -> NetlangServer:
    server = NetlangServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: NetlangServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: NetlangServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.publish_soon(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: NetlangServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        for target in ls.published.pop(uri, set()) | {uri}:
            ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=target, diagnostics=[])
            )
        ls.analyses.pop(uri, None)
        ls.good.pop(uri, None)
        ls.builds.pop(uri, None)
        ls.changed.pop(uri, None)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: NetlangServer, params: types.HoverParams) -> types.Hover | None:
        found = hover(ls.analysis(params.text_document.uri), to_position(params.position))
        if found is None:
            return None
        text, span = found
        content = types.MarkupContent(kind=types.MarkupKind.Markdown, value=text)
        return types.Hover(contents=content, range=to_range(span))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: NetlangServer, params: types.DefinitionParams) -> types.Location | None:
        uri = params.text_document.uri
        result = ls.analysis(uri)
        if result.program is None:
            result = ls.good.get(uri, result)
        found = definition(result, to_position(params.position))
        if found is None:
            return None
        name, span = found
        return types.Location(ls.uri_of(result, name, uri), to_range(span))

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def on_symbols(
        ls: NetlangServer, params: types.DocumentSymbolParams
    ) -> list[types.DocumentSymbol]:
        uri = params.text_document.uri
        result = ls.analysis(uri)
        result = result if result.program is not None else ls.good.get(uri, result)
        if result.module is None:
            return []
        return [_symbol(s) for s in symbols(result.source, result.module)]

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=["(", ",", ">", ":"]),
    )
    def on_completion(ls: NetlangServer, params: types.CompletionParams) -> types.CompletionList:
        uri = params.text_document.uri
        text = ls.workspace.get_text_document(uri).source
        items = completions(text, to_position(params.position), ls.good.get(uri))
        return types.CompletionList(
            is_incomplete=False,
            items=[
                types.CompletionItem(
                    label=item.label,
                    kind=COMPLETION_KINDS[item.kind],
                    detail=item.detail or None,
                    documentation=item.documentation or None,
                    insert_text=item.insert,
                )
                for item in items
            ],
        )

    return server


def serve_stdio() -> None:
    # An analysis allocates ~10^5 objects; at the default thresholds the collector runs ~200
    # times per analysis of a large file and walks the whole heap (~17% of its time). Freezing
    # what start-up loaded and collecting young objects every 50,000 allocations leaves ~1.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    make_server().start_io()
