"""One exception hierarchy: user errors print one line and exit with status 2."""


class MerBenchError(Exception):
    """A problem the user can fix (bad path, bad spreadsheet row, unknown name).

    The message is one line naming the file / row / name and what to do.
    """

    exit_code = 2


class DataError(MerBenchError):
    """Dataset files are missing, unreadable or inconsistent."""


class ConfigError(MerBenchError):
    """A protocol, suite or command-line setting is invalid."""


class UnknownNameError(MerBenchError):
    """A registry lookup failed; the message carries 'did you mean' suggestions."""
