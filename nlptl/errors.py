"""The one exception type for mistakes a user can fix (bad recipe field, missing column, unreadable file...)."""


class NlptlError(Exception):
    """A user-fixable problem. The message names the field/file/line and what to do about it."""
