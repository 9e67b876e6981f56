"""Errors whose message is one line a user can act on (the CLI prints ``str(error)`` alone).

Everything that came from outside — a file name, a URL, a server's answer, a library's message — is
shown through :func:`printable`/:func:`shown`: escaped, never interpreted by a terminal, and cut short.
"""

MAX_ITEM_CHARS = 300  # one item's error in a batch (a scan target, a crawled URL), and its line on stderr
MAX_MESSAGE_CHARS = 1000  # any error message: a command's one error may name several things (each authority …)
MAX_EXCERPT_CHARS = 120  # a quoted excerpt of outside text (a server's answer, a library's message)


class LikenessError(Exception):
    """Base class: an expected failure with a one-line, user-facing reason.

    The message is made printable and cut to ``MAX_MESSAGE_CHARS`` here, once, so that no name or answer
    quoted in it can split the line or flood the terminal.
    """

    def __init__(self, message: object = "") -> None:
        super().__init__(shown(str(message), MAX_MESSAGE_CHARS))


class MediaError(LikenessError):
    """A file cannot be analysed: unreadable, truncated, too large, too long, wrong content."""


class ModelUnavailable(LikenessError):
    """A model or its library failed to load; the message says how to repair the install."""


class NotFound(LikenessError):
    """A performer, detection or other record named by the user does not exist."""


class ConsentMissing(LikenessError):
    """Biometric references may not be stored for a performer without a recorded consent."""


def printable(text: str) -> str:
    """``text`` with every character a terminal could act on escaped, and nothing cut.

    Control characters become ``\\n``, ``\\t``, ``\\x1b``…; the bytes of a file name that are not UTF-8
    (which Python holds as lone surrogates) become ``\\xe9``…, so the result always encodes as UTF-8.
    Text that is already printable comes back unchanged.
    """
    if text.isprintable():
        return text
    return "".join(_escaped(char) for char in text)


def shown(text: str, limit: int = MAX_ITEM_CHARS) -> str:
    """:func:`printable` ``text`` in at most ``limit`` characters (≥ 2), cut with '…'."""
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown_name(name: str, limit: int = 100) -> str:
    """A file name, path or URL for an error line: printable, and when longer than ``limit`` characters, its
    start and end (the file's own name) around a '…'."""
    name = printable(name)
    if len(name) <= limit:
        return name
    head = limit // 3
    return f"{name[:head]}…{name[len(name) - (limit - head - 1):]}"


def error_line(error: BaseException, limit: int = MAX_EXCERPT_CHARS) -> str:
    """The first line of a library's error message, printable and short; its type's name when it has none."""
    first = (str(error).strip().splitlines() or [""])[0].strip()
    return shown(first, limit) if first else type(error).__name__


def unexpected(error: BaseException) -> str:
    """One line for a failure nobody planned for (a bug): its type and the first line of its message."""
    return f"unexpected {type(error).__name__}: {error_line(error)}"


def _escaped(char: str) -> str:
    if char.isprintable():
        return char
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by os.fsdecode as a lone surrogate
        return f"\\x{code - 0xDC00:02x}"
    return char.encode("unicode_escape", "backslashreplace").decode("ascii")
