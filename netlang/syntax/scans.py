"""Scans for what a syntax error alone cannot say: where a bracket was opened, whether the AST
nests deeper than elaboration may recurse (both iterate, so no input exhausts the stack), and the
hints for a missing comma, a reserved word as a name, characters the language lacks, and a
decimal written with a comma; and the mistakes better shown at an earlier token than the one the
parser stopped at (a flow ending in `->`, outputs without a comma)."""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Any

from netlang.syntax import ast

# The longest source parsed (characters): 27 times the largest file of the standard library
# (9,000), and what the worst inputs measured (100,000 nested parentheses, an 80,000-item list)
# parse and check in about 4 s of one core; a megabyte took 15 s (docs/language.md, "Limits").
MAX_SOURCE = 250_000

# How deep expressions, groups and bodies may nest (Python's parser stops at 200 parentheses).
MAX_NESTING = 100


def too_deep(module: ast.Module) -> tuple[ast.Node, ast.Binary | None] | None:
    """The first node nested deeper than MAX_NESTING (expressions, groups, bodies), and the
    first operator of the run it lies in (`a + b + c`: each operator the left operand of the
    next, one level each), walked without recursion; elaboration recurses per level, so the
    limit keeps it off the stack."""
    stack: list[tuple[Any, int, ast.Binary | None]] = [(module, 0, None)]
    while stack:
        node, depth, run = stack.pop()
        if isinstance(node, ast.Binary):
            if depth > MAX_NESTING:
                return node, run
            stack.append((node.right, depth + 1, None))
            stack.append((node.left, depth + 1, run or node))
        elif isinstance(node, ast.Node):
            if depth > MAX_NESTING:
                return node, run
            stack.extend((getattr(node, f), depth + 1, None) for f in node.__slots__)
        elif isinstance(node, (tuple, list)):
            stack.extend((item, depth, None) for item in node)
    return None


def operators(run: ast.Binary) -> tuple[int, ast.Node]:
    """How many operators a run holds (`a + b + c`: 2), and its first operand."""
    count, node = 0, run
    while isinstance(node, ast.Binary):
        count, node = count + 1, node.left
    return count, node


CLOSERS = {"(": ")", "[": "]", "{": "}"}


def unclosed_bracket(text: str, position: int) -> tuple[int, int, str] | None:
    """(line, column, bracket) of the innermost bracket still open at `position`, outside
    strings and comments; None when all are closed."""
    stack: list[tuple[int, int, str]] = []
    line, column, i, quoted = 1, 1, 0, False
    while i < min(position, len(text)):
        char = text[i]
        if quoted:
            quoted = char != '"' and char != "\n"
            if char == "\\":
                i, column = i + 1, column + 1
        elif char == "#":
            while i + 1 < len(text) and text[i + 1] != "\n":
                i, column = i + 1, column + 1
        elif char == '"':
            quoted = True
        elif char in CLOSERS:
            stack.append((line, column, char))
        elif char in CLOSERS.values() and stack:
            stack.pop()
        line, column = (line + 1, 1) if char == "\n" else (line, column + 1)
        i += 1
    return stack[-1] if stack else None


# Characters that word processors, PDFs and keyboard layouts put for ASCII ones (a course's
# slides pasted into an editor): what to write instead.
LOOKALIKES = {
    "\u2212": "-",  # minus sign
    "\u2010": "-",  # hyphen
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u201e": '"',  # double low-9 quotation mark
    "\u00ab": '"',  # left-pointing double angle quotation mark
    "\u00bb": '"',  # right-pointing double angle quotation mark
    "\u2018": '"',  # left single quotation mark (strings take double quotes)
    "\u2019": '"',  # right single quotation mark
    "\u2192": "->",  # rightwards arrow
    "\u00d7": "*",  # multiplication sign
    "\u00a0": " ",  # no-break space
    "\u2009": " ",  # thin space
    "\u202f": " ",  # narrow no-break space
    "\u200b": "",  # zero width space
    "\u2060": "",  # word joiner
    "\uff08": "(",  # fullwidth parentheses, comma, colon, equals
    "\uff09": ")",
    "\uff0c": ",",
    "\uff1a": ":",
    "\uff1d": "=",
}


def lookalike_hint(char: str) -> str | None:
    """`−` (U+2212 MINUS SIGN) is not `-`: the name of the character and what to write."""
    ascii_form = LOOKALIKES.get(char)
    if ascii_form is None:
        return None
    name = unicodedata.name(char, f"U+{ord(char):04X}").lower()
    instead = f"write `{ascii_form}`" if ascii_form.strip() else "delete it"
    if ascii_form == " ":
        instead = "write a plain space"
    return f"this is the {name} (U+{ord(char):04X}), not ASCII: {instead}"


def character_hint(text: str, position: int) -> str | None:
    """For a character the language lacks: `'` (strings take `"`), a look-alike of an ASCII
    character (`−`, `“`, `→`, a no-break space), or a letter outside ASCII (`características`:
    names are ASCII, so the word unaccented)."""
    if text[position : position + 1] == "'":
        return "strings use double quotes"
    lookalike = lookalike_hint(text[position : position + 1])
    if lookalike is not None:
        return lookalike
    if position >= len(text) or text[position].isascii() or not text[position].isalpha():
        return None
    start, end = position, position
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    plain = unicodedata.normalize("NFKD", text[start:end]).encode("ascii", "ignore").decode()
    suggestion = f": write `{plain}`" if plain and not plain[0].isdigit() else ""
    return f"names take ASCII letters, digits and `_` only{suggestion}"


def comma_hint(text: str, position: int, expected: list[str]) -> str | None:
    """A word or number right after another on one line, where `,` could come: `float32[N 1]`,
    `linear(8 bias=false)`."""
    before = text[:position]
    if "`,`" not in expected or "\n" in before[len(before.rstrip()) :]:
        return None
    return "a `,` is missing before it" if text[position : position + 1].isalnum() else None


def argument_comma(
    text: str, position: int, expected: list[str]
) -> tuple[Place, Place, str, str] | None:
    """(start, end, message, hint) for an argument that starts a line after another inside a
    call's `(` where `,` could come (`conv2d(16,\n kernel=3\n stride=2)`): the `,` at the end
    of the line before is missing, not the `)`, so point at the second argument."""
    before = text[:position]
    if "`,`" not in expected or "\n" not in before[len(before.rstrip()) :]:
        return None
    word = re.match(r'"[^"\n]*"?|\w+', text[position:])
    opened = unclosed_bracket(text, position)
    if word is None or opened is None or opened[2] != "(":
        return None
    opener = text.split("\n", opened[0])[opened[0] - 1]
    if _place(text, position)[1] - 1 <= len(opener) - len(opener.lstrip()):
        return None  # a statement as indented as the call's line: the `)` is what is missing
    line = _place(text, len(before.rstrip()))[0]
    message = "a `,` is probably missing between the arguments"
    hint = f"add `,` at the end of line {line}"
    return _place(text, position), _place(text, position + word.end()), message, hint


def reserved_hint(text: str, position: int, reserved: list[str]) -> str | None:
    """A reserved word named as a tensor or layer (`train = ...`, `test = ...`, `input: linear`),
    whether the parser stops at the word or at the `=` or `:` after it."""
    before = re.search(r"([A-Za-z_]\w*)[ \t]*$", text[:position])
    word = re.match(r"[A-Za-z_]\w*", text[position:])
    if word is not None:
        name, rest = word.group(), text[position + word.end() :]
    elif before is not None:
        name, rest = before.group(1), text[position:]
    else:
        return None
    if name not in reserved or not re.match(r"[ \t]*(=(?!=)|:)", rest):
        return None
    return f"`{name}` is a reserved word: choose another name (e.g. `{name}_`)"


def token_hint(token: str, expected: list[str]) -> str | None:
    """Known mistakes get a specific hint (lark's match_examples, by token)."""
    if token == "=" and "a comparison" in expected:
        return "use `==` to compare"
    if token in {"'"}:
        return "strings use double quotes"
    if token == ":" and "`{`" in expected:
        return "a body goes in braces, `{ ... }`, not after `:`"
    return None


def eof_hint(text: str) -> str | None:
    opened = text.count("{") - text.count("}")
    if opened > 0:
        return f"{opened} `{{` not closed"
    return "a flow cannot end with `->`" if text.rstrip().endswith("->") else None


# What a stage starts with, as the parser's "expected" names it.
_STAGE_START = ["`{`", "a name"]
# `->` then only blanks and comments: the arrow a flow ends with.
_DANGLING_ARROW = re.compile(r"->(?:\s|#[^\n]*+)*\Z")
# `output y z` (up to the parser's stop): the name after which a `,` is missing.
_OUTPUTS = re.compile(r"(?m)^[ \t]*output[ \t]+(?:\w+[ \t]*,[ \t]*)*(\w+)[ \t]+(\w+)")

Place = tuple[int, int]  # (line, column), 1-based, as lark counts


def misplaced(
    text: str, position: int, expected: list[str]
) -> tuple[Place, Place, str, str] | None:
    """(start, end, message, hint) for a mistake that lies elsewhere than where the parser
    stopped: a look-alike character later on its line (`lr=1e−3`), a flow ending in `->` (the
    parser stops at the next line's `output`, so point at the arrow) and names after `output`
    without a comma (it stops at the `}` after them)."""
    rest = text[position:].split("\n", 1)[0].split("#", 1)[0].split('"', 1)[0]
    odd = next((i for i, char in enumerate(rest) if char in LOOKALIKES), None)
    if odd is not None:  # `1e−3`: the parser stops at `e`, before the lexer meets the `−`
        start = position + odd
        hint = lookalike_hint(text[start])
        assert hint is not None
        return _place(text, start), _place(text, start + 1), f"unexpected `{text[start]}`", hint
    word = misspelt_keyword(text, position)
    if word is not None:
        return word
    before = text[:position]
    arrow = _DANGLING_ARROW.search(before)
    if arrow is not None and expected == _STAGE_START:
        start, end = arrow.start(), arrow.start() + 2
        message = "the flow ends after `->` with no stage"
        hint = "remove the `->`, or add the next layer after it"
        return _place(text, start), _place(text, end), message, hint
    last = before.rstrip()
    line_start = last.rfind("\n") + 1
    outputs = _OUTPUTS.match(text, line_start, len(last))
    if outputs is not None:
        start, end, name = outputs.start(2), outputs.end(2), outputs.group(2)
        hint = f"a `,` is missing between outputs: `{outputs.group(1)}, {name}`"
        return _place(text, start), _place(text, end), f"unexpected `{name}`", hint
    return None


# The words a statement starts with: at the top level, and inside a model or block's body.
TOP_KEYWORDS = ("model", "block", "train", "import")
BODY_KEYWORDS = ("input", "output", "return", "assert", "for", "if", "test")
# A line's first word, then blanks and (perhaps) a second word.
_FIRST_WORDS = re.compile(r"[ \t]*([A-Za-z_]\w*)[ \t]*([A-Za-z_]\w*)?[ \t]*")


def misspelt_keyword(text: str, position: int) -> tuple[Place, Place, str, str] | None:
    """A line that starts with a word that is no keyword, where the parser stops at that word or
    at the name after it (`modelo Net {`, `outputs y`, `trian Net {`): said at the first word,
    with the keyword it is closest to, else the words a statement there may start with. In a
    train section, whose settings are words of their own, only `data = ...` (no `=` there)."""
    line_start = text.rfind("\n", 0, position) + 1
    match = _FIRST_WORDS.match(text, line_start)
    if match is None:
        return None
    first = match.group(1)
    sections = re.findall(r"(?m)^([A-Za-z_]\w*)", text[:line_start])
    if sections and sections[-1] == "train" and line_start != match.start(1):
        if position != match.end() or not text.startswith("=", position):
            return None
        value = text[position + 1 :].split("\n", 1)[0].strip()
        hint = f"a train setting takes no `=`: write `{first} {value}`"
        return _place(text, position), _place(text, position + 1), "unexpected `=`", hint
    if position not in (match.start(1), match.start(2)) or first in BODY_KEYWORDS + TOP_KEYWORDS:
        return None
    opened = unclosed_bracket(text, line_start)
    if opened is not None and opened[2] in "([":  # a list or arguments, written on lines
        return None
    top = opened is None
    words = TOP_KEYWORDS if top else BODY_KEYWORDS
    close = difflib.get_close_matches(first.lower(), TOP_KEYWORDS + BODY_KEYWORDS, n=1)
    if close:
        hint = f"did you mean `{close[0]}`?"
    else:
        where = "at the top level of a file" if top else "in a model's body"
        hint = f"a line {where} starts with {', '.join(f'`{w}`' for w in words)} or `name =`"
    message = f"`{first}` is not a keyword"
    return _place(text, match.start(1)), _place(text, match.end(1)), message, hint


def _place(text: str, offset: int) -> Place:
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


# A string or a comment (skipped), or `0,5` outside them: a decimal written with a comma.
_DECIMAL_COMMA = re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*|(?<![\w.])(0,\d+)(?![\w.])')


def decimal_commas(text: str) -> list[tuple[int, int, str]]:
    """Where `0,2` stands in code (not in strings or comments), as (line, column, text): the
    decimal comma of Spanish and many other languages, which reads as two numbers here."""
    found: list[tuple[int, int, str]] = []
    if len(text) > MAX_SOURCE:  # refused unparsed (NL1006): not scanned either
        return found
    line, counted = 1, 0  # lines counted up to `counted`, so many commas cost one pass
    for match in _DECIMAL_COMMA.finditer(text):
        if match.group(1):
            start = match.start(1)
            line, counted = line + text.count("\n", counted, start), start
            found.append((line, start - text.rfind("\n", 0, start), match.group(1)))
    return found
