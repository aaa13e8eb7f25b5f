"""Code as decontamination compares it: renaming variables, reformatting or commenting a benchmark's solution does
not make it a different program.

`normalise_code` keeps keywords, builtins, attribute names, operators (spelt as words, `lpar`, `plus`: the n-gram check drops
punctuation) and string contents (a docstring is the problem statement), turns every other name into `x`, every
number into `0`, and drops comments and layout. Fenced blocks of a response are taken as its code; a text that is not Python (prose) is
returned as it is, so a prose instruction is still compared word by word.
"""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import re
import textwrap
import tokenize

_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
_KEPT = frozenset(keyword.kwlist) | frozenset(dir(builtins))


def _is_python(source: str) -> bool:
    """Parses as Python: whole, as an indented body (a benchmark's solution), or as a signature with its docstring
    and no body yet (a HumanEval prompt)."""
    source = textwrap.dedent(source)
    for candidate in (source, source + "\n    pass\n"):
        try:
            ast.parse(candidate)
            return True
        except (SyntaxError, ValueError):
            continue
    return False


def normalise_code(text: str | None) -> str | None:
    if not text:
        return text
    blocks = _FENCE.findall(text)
    source = "\n".join(blocks) if blocks else text
    if not blocks and not _is_python(source):
        return text
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return text
    words = []
    for token in tokens:
        if token.type == tokenize.NAME:  # an attribute (`.split`) is the API's name, not the author's choice
            words.append(token.string if token.string in _KEPT or words[-1:] == ["dot"] else "x")
        elif token.type == tokenize.NUMBER:
            words.append("0")
        elif token.type == tokenize.STRING:
            words.append(token.string.strip("rbuRBUfF").strip("'\""))
        elif token.type == tokenize.OP:  # as a word (`lpar`, `plus`): n-grams drop punctuation, not structure
            words.append(tokenize.tok_name[token.exact_type].lower())
    return " ".join(words)
