"""Errors whose message is one line a user can act on (the CLI prints ``str(error)`` alone)."""


class LikenessError(Exception):
    """Base class: an expected failure with a one-line, user-facing reason."""


class MediaError(LikenessError):
    """A file cannot be analysed: unreadable, truncated, too large, too long, wrong content."""


class ModelUnavailable(LikenessError):
    """A model or its library failed to load; the message says how to repair the install."""


class NotFound(LikenessError):
    """A performer, detection or other record named by the user does not exist."""


class ConsentMissing(LikenessError):
    """Biometric references may not be stored for a performer without a recorded consent."""


def unexpected(error: BaseException) -> str:
    """One line for a failure nobody planned for (a bug): its type and the first line of its message."""
    return f"unexpected {type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
