"""Standard-input programs (competitive programming): the prompt's sample tests and the programs.

Codeforces, AtCoder, APPS, CodeContests and TACO prompts ask for a script that reads stdin and
prints the answer, and state sample tests as header lines with the data below them::

    Sample Input 1          Examples            -----Example-----
    3                       Input               Input
    1 2 3                   3                   3
                            1 2 3               1 2 3
    Sample Output 1         Output              Output
    6                       6                   6

A group of such scripts is run on the sample inputs (never on hidden tests) and compared by what it
prints; passing a sample is judged as the code verifier judges a stdin test (:func:`same_stdout`).
Section headers that describe the format (APPS's ``-----Input-----``) are not samples.
"""

from __future__ import annotations

import re

from memreward_verl.verify.code_verifier import _same_stdout as same_stdout
from memreward_verl.verify.code_verifier import extract_code

__all__ = ["MAX_SAMPLE_BYTES", "STDIN_PROGRAM", "reads_stdin", "same_stdout", "script_of", "stdio_samples"]

#: The function name recorded for a stdin program (it is run whole, as ``__main__``).
STDIN_PROGRAM = "<stdin>"

#: Longest sample input or output kept, in UTF-8 bytes (a pipe carries the input in one write).
MAX_SAMPLE_BYTES = 32_000

_DECOR = r"[\s\-=#*_:.`]*"
# "Sample Input 1", "Example input:", "SAMPLE INPUT", "### Sample Input 2", "Input" alone on its line.
_INPUT = re.compile(rf"{_DECOR}(?:(?:sample|example)s?\s*(?:test\s*)?(?:case\s*)?#?\s*\d*\s*)?input\s*#?\s*\d*{_DECOR}")
_OUTPUT = re.compile(
    rf"{_DECOR}(?:(?:sample|example)s?\s*(?:test\s*)?(?:case\s*)?#?\s*\d*\s*)?output\s*#?\s*\d*{_DECOR}"
)
_NAMED = re.compile(r"\b(?:sample|example)s?\b", re.IGNORECASE)
# A heading that opens the samples: "Examples", "-----Example-----", "Sample 2", "### Sample tests".
_SAMPLES_HEADING = re.compile(rf"{_DECOR}(?:sample|example)s?(?:\s+tests?)?\s*\d*{_DECOR}", re.IGNORECASE)
# Lines that end a sample output: another header, a note or explanation, a section rule.
_SECTION = re.compile(r"\s*(?:-{3,}|={3,}|#+\s|(?:note|notes|explanation|hint|constraints?)\b)", re.IGNORECASE)
_READS_STDIN = re.compile(r"\binput\s*\(|\bsys\s*\.\s*stdin\b|\bopen\s*\(\s*0\b|\bfileinput\b|\bstdin\s*\.\s*read")


def _is_header(line: str, pattern: re.Pattern[str], bare: bool = True) -> bool:
    """A header line of ``pattern``: named a sample/example (``Sample Input 1``), or (``bare``) the
    word alone (``Input``, ``Input:``); a decorated bare word (``-----Input-----``) is a format section."""
    if not pattern.fullmatch(line.lower()):
        return False
    return bool(_NAMED.search(line)) or (bare and re.fullmatch(r"\s*\w+\s*\d*\s*:?\s*", line) is not None)


def _block(lines: list[str], start: int, stop_at_blank: bool) -> tuple[str, int]:
    """Lines from ``start`` up to the next header (``stop_at_blank``: also the first blank line after
    some content, where AtCoder's explanation begins); fence lines are dropped."""
    out: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i]
        if _is_header(line, _INPUT) or _is_header(line, _OUTPUT) or _SAMPLES_HEADING.fullmatch(line):
            break
        if line.strip().startswith("```"):
            if out and stop_at_blank:
                i += 1
                break
            i += 1
            continue
        if not line.strip():
            if out and stop_at_blank:
                break
        elif out and stop_at_blank and _SECTION.match(line):
            break
        out.append(line.rstrip())
        i += 1
    while out and not out[-1].strip():
        out.pop()
    while out and not out[0].strip():
        out.pop(0)
    return "\n".join(out), i


def stdio_samples(question: str) -> list[tuple[str, str]]:
    """``(stdin, expected stdout)`` of each sample test the prompt states, in order, duplicates removed.

    A sample is an input header followed by its data, then an output header and its data (see the module
    docstring). A bare ``Input`` header counts only after a samples heading (``Examples``): Codeforces states
    the input format under the same bare word. Inputs keep their blank lines, an output ends at the first blank
    line after its content or at a note, an explanation or the next header. Samples longer than
    :data:`MAX_SAMPLE_BYTES` are skipped.
    """
    if not isinstance(question, str) or "put" not in question.lower():
        return []
    lines = question.splitlines()
    found: list[tuple[str, str]] = []
    in_samples = False
    i = 0
    while i < len(lines):
        if _SAMPLES_HEADING.fullmatch(lines[i]):
            in_samples = True
        if not _is_header(lines[i], _INPUT, bare=in_samples):
            i += 1
            continue
        given, j = _block(lines, i + 1, stop_at_blank=False)
        if j >= len(lines) or not _is_header(lines[j], _OUTPUT) or not given.strip():
            i = max(j, i + 1)
            continue
        expected, k = _block(lines, j + 1, stop_at_blank=True)
        small = max(len(given.encode("utf-8")), len(expected.encode("utf-8"))) < MAX_SAMPLE_BYTES
        if expected.strip() and small:
            pair = (given + "\n", expected)
            if pair not in found:
                found.append(pair)
        i = max(k, j + 1)
    return found


def reads_stdin(code: str | None) -> bool:
    """Whether a program reads standard input (``input()``, ``sys.stdin``, ``open(0)``, fileinput)."""
    return bool(code) and _READS_STDIN.search(code) is not None


def script_of(text: str) -> str | None:
    """The program the code verifier would run for a stdin test (:func:`extract_code`)."""
    return extract_code(text or "", None)
