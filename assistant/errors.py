"""User-facing errors: one clear line that names the thing and the fix.

Raise ``UserError`` anywhere; the CLI prints its message as one line on stderr and
exits with code 2. Never raise it for programming errors.
"""


class UserError(Exception):
    """A problem the user can fix (a path, a port name, a config key)."""

    exit_code = 2
