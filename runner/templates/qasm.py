"""OpenQASM 2/3 in and out: load spec-referenced files, locate parse errors, store circuits.

Line and column numbers handed out here are 1-based, like every other qrun diagnostic, and
point into the text given (the parsers disagree: qiskit's OpenQASM 2 parser and ANTLR count
columns from 0). Only the built-in includes (``qelib1.inc``, ``stdgates.inc``) resolve: a
run's identity hashes the QASM file's bytes, so a circuit must not depend on other files.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from runner.errors import QrunError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

_HEADER = re.compile(
    r"\A(?:\s+|//[^\n]*|/\*.*?\*/)*OPENQASM\s+(?P<major>\d+)(?:\.(?P<minor>\d+))?\s*;", re.DOTALL
)
_POSITION = re.compile(r"\A(?:<input>:)?(?P<line>\d+),(?P<col>\d+):\s*(?P<message>.*)\Z", re.DOTALL)
_OBJECT_ID_NAME = re.compile(r"\b(?P<base>[A-Za-z_][A-Za-z0-9_]*?)_(?P<id>\d{6,})\b")
_MAX_MESSAGE = 160


class QasmError(QrunError):
    """A QASM text failed to parse or import; ``line``/``col`` are 1-based."""

    def __init__(self, line: int, col: int, message: str) -> None:
        self.line, self.col, self.message = line, col, message
        super().__init__(f"line {line}, column {col}: {message}")


def qasm_version(text: str) -> int:
    """Major OpenQASM version (2 or 3) from the header, which may follow comments."""
    match = _HEADER.match(text)
    if match is None:
        raise QasmError(1, 1, "missing 'OPENQASM 2.0;' or 'OPENQASM 3.0;' header")
    major = int(match["major"])
    if major not in (2, 3):
        line = text.count("\n", 0, match.start("major")) + 1
        raise QasmError(line, 1, f"unsupported OpenQASM version {major}; use 2 or 3")
    return major


def _shorten(message: str) -> str:
    """ANTLR lists every expected token; keep the part a person reads."""
    message = " ".join(message.split())
    if len(message) <= _MAX_MESSAGE:
        return message
    head, sep, _ = message.partition(" expecting {")
    return head if sep else message[: _MAX_MESSAGE - 1] + "…"


def _located(message: str, default_line: int = 1) -> QasmError:
    """Turn a parser message carrying ``line,col:`` (0-based column) into a QasmError."""
    match = _POSITION.match(message.strip().strip('"'))
    if match is None:
        return QasmError(default_line, 1, _shorten(message))
    return QasmError(int(match["line"]), int(match["col"]) + 1, _shorten(match["message"]))


def _qasm3_syntax_error(text: str) -> QasmError:
    """Re-run the OpenQASM 3 grammar with a collecting listener: the public parser bails
    with an empty message, but ANTLR's own reporting knows the line and the offending token."""
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.error.ErrorListener import ErrorListener
    from openqasm3._antlr.qasm3Lexer import qasm3Lexer
    from openqasm3._antlr.qasm3Parser import qasm3Parser

    errors: list[QasmError] = []

    class Collect(ErrorListener):
        def syntaxError(  # ANTLR callback name
            self, recognizer: object, symbol: object, line: int, col: int, msg: str, e: object
        ) -> None:
            errors.append(QasmError(line, col + 1, _shorten(msg)))

    lexer = qasm3Lexer(InputStream(text))
    lexer.removeErrorListeners()
    lexer.addErrorListener(Collect())
    parser = qasm3Parser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(Collect())
    parser.program()
    return errors[0] if errors else QasmError(1, 1, "OpenQASM 3 syntax error")


def _load_qasm2(text: str) -> QuantumCircuit:
    """qiskit's OpenQASM 2 parser with qelib1.inc gates mapped onto qiskit's standard gates."""
    from qiskit import qasm2

    try:
        return qasm2.loads(
            text, include_path=(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS
        )
    except qasm2.QASM2Error as exc:
        raise _located(exc.message) from None


def _load_qasm3(text: str) -> QuantumCircuit:
    """qiskit's OpenQASM 3 importer; its internals leak plain Python errors on bad input."""
    from openqasm3.parser import QASM3ParsingError
    from qiskit import qasm3
    from qiskit.exceptions import QiskitError

    try:
        return qasm3.loads(text)
    except QASM3ParsingError:
        raise _qasm3_syntax_error(text) from None
    except QiskitError as exc:
        raise _located(exc.message) from None
    # Boundary: the importer walks user text and can fail with bare built-in errors.
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as exc:
        raise QasmError(1, 1, f"OpenQASM 3 import failed ({type(exc).__name__}: {exc})") from None


def load_qasm(text: str) -> QuantumCircuit:
    """Parse OpenQASM 2 or 3 into a circuit with no free parameters; QasmError otherwise."""
    version = qasm_version(text)
    circuit = _load_qasm2(text) if version == 2 else _load_qasm3(text)
    if circuit.num_qubits == 0:
        raise QasmError(1, 1, "the program declares no qubits")
    if circuit.parameters:
        names = ", ".join(sorted(p.name for p in circuit.parameters))
        match = re.search(r"^[ \t]*input\b", text, re.MULTILINE)
        line = text.count("\n", 0, match.start()) + 1 if match else 1
        raise QasmError(line, 1, f"unbound input parameter(s) {names}; give them fixed values")
    return circuit


def qasm_error(text: str) -> tuple[int, int, str] | None:
    """(line, col, message) of the first problem in ``text``, or None if it loads cleanly."""
    try:
        load_qasm(text)
    except QasmError as exc:
        return exc.line, exc.col, exc.message
    return None


def _stable_names(text: str) -> str:
    """The OpenQASM 2 exporter disambiguates same-named gates with ``id()``; renumber them
    in order of appearance so equal circuits always serialise to equal bytes."""
    taken = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    renames: dict[str, str] = {}
    for match in _OBJECT_ID_NAME.finditer(text):
        if match[0] in renames:
            continue
        counter = len(renames)
        while (candidate := f"{match['base']}_{counter}") in taken:
            counter += 1
        taken.add(candidate)
        renames[match[0]] = candidate
    if not renames:
        return text
    return _OBJECT_ID_NAME.sub(lambda m: renames.get(m[0], m[0]), text)


def dump_qasm(circuit: QuantumCircuit) -> str:
    """OpenQASM 2 when the circuit fits in it (widest tool support), else OpenQASM 3."""
    from qiskit import qasm2, qasm3

    try:
        return _stable_names(qasm2.dumps(circuit)) + "\n"
    except qasm2.QASM2ExportError:
        return qasm3.dumps(circuit)
