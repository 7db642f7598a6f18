"""One exception tree for everything edgekit reports to a user.

Every error carries a message that says what was wrong and what was received, and optionally a
hint that says how to fix it. Each class carries its exit code and the CLI turns errors into
messages and codes in one place (cli.py), so library code only raises; it never prints or exits.

Exit codes, one per kind of outcome: 0 success; 1 an operation failed (a conversion, a download,
a measurement, a regression found by `check`); 2 a usage error (bad flag, recipe, file or name, or
a part of the install that is missing); 3 refused by a trust or safety policy that has an explicit
opt-in (RefusedError); 130 interrupted.
"""

from __future__ import annotations


class EdgekitError(Exception):
    """Base of all errors edgekit raises on purpose. Exit code 1 unless a subclass says otherwise."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(EdgekitError):
    """The user asked for something malformed: a bad name, flag or file. Exit code 2."""

    exit_code = 2


class UnknownNameError(UsageError):
    """A name that is not in a registry (target, format, quant mode, runtime)."""


class RecipeError(UsageError):
    """A recipe file that is missing, unparsable or invalid; messages carry the field path."""


class NotInstalledError(UsageError):
    """A part of the install that a command needs is missing: an extra, a `edgekit setup` step,
    Node.js or Chromium. The hint is the command that installs it."""


class SetupError(EdgekitError):
    """An `edgekit setup` step was asked for and failed (npm ci, pip, a checksum)."""


class RefusedError(EdgekitError):
    """edgekit refused an input it does not trust (a safety or trust policy said no, and an
    explicit opt-in exists): a publisher outside the allowlist, an unpinned handle, bytes whose
    hash differs from the record, unsafe ops, an archive over its limits. Exit code 3."""

    exit_code = 3


class SourceError(EdgekitError):
    """A backbone source could not be resolved, downloaded, verified or loaded."""


class UntrustedSourceError(SourceError, RefusedError):
    """A source that policy refuses until the user opts in: publisher not allowed, no version."""


class IntegrityError(SourceError, RefusedError):
    """Bytes on disk or on the wire do not match the hash that was recorded for them."""


class UnsafeModelError(SourceError, RefusedError):
    """A model or archive that would do something unsafe when extracted or loaded."""


class DataError(EdgekitError):
    """Training or evaluation data that cannot be used (empty class, corrupt image, ...)."""


class TrainingError(EdgekitError):
    """Fine-tuning failed."""


class ConversionError(EdgekitError):
    """A format converter failed for one (format, quant mode) combination."""


class RuntimeLoadError(EdgekitError):
    """An artifact could not be loaded or run by its runtime."""


class ParityError(EdgekitError):
    """Parity could not be computed (not: parity was poor; that is a verdict, not an error)."""


class BenchError(EdgekitError):
    """A benchmark could not be run."""


class BundleError(EdgekitError):
    """A bundle could not be written or does not verify."""
