"""asv.conf.json as plain JSON: the results stage stores it so, and GitHub discovery reads its `repo` from it
(core, shared by both stages)."""

from __future__ import annotations

import json
import re

import json5

# A JSON string, or a // or /* */ comment: strings are kept, comments dropped.
_STRING_OR_COMMENT = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.DOTALL)
# A JSON string, or a trailing comma: a comma before `]` or `}` that follows a value (not `[`, `{`,
# another comma or only whitespace, so `[,]` stays invalid, as json5 has it).
_STRING_OR_TRAILING_COMMA = re.compile(r'("(?:\\.|[^"\\])*")|(?<![\[{,\s])(\s*),(?=\s*[}\]])')


def config_as_json(text: str) -> tuple[str, str | None]:
    """asv.conf.json allows // comments and trailing commas (asv's own template has both). Strip them
    and parse strictly (fast); anything else JSON5 allows (single quotes, bare keys, ...) goes to json5,
    the parser asv itself uses: pure Python, ~0.1 s per config (1.3 s of the 8x bench's ingest while
    configs with trailing commas went there). What the fast path accepts is JSON plus comments and
    trailing commas, which json5 reads to the same value; what it rejects, json5 gets as written."""
    stripped = _STRING_OR_COMMENT.sub(lambda m: m.group(1) or "", text)
    try:
        return json.dumps(json.loads(stripped)), None
    except ValueError:
        pass
    try:
        without_trailing_commas = _STRING_OR_TRAILING_COMMA.sub(lambda m: m.group(1) or m.group(2), stripped)
        return json.dumps(json.loads(without_trailing_commas)), None
    except ValueError:
        pass
    try:
        return json.dumps(json5.loads(text)), None
    except ValueError as exc:
        return text, f"asv.conf.json is not valid JSON5: {exc}"
