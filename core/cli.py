"""One error style for every command: bad input is one line on stderr and exit code 2, a failure
(network, disk) one line and exit code 1; nothing else is caught, so a bug still shows its traceback.

    def main(argv=None) -> int:
        args = parse(argv)
        ...
    if __name__ == "__main__":
        sys.exit(run(main))
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable

BAD_INPUT = 2
FAILED = 1


class InputError(ValueError):
    """Input a command cannot use: a missing or malformed file or folder, an unknown name, a bad value.
    The message names the argument or file and what was expected."""


class CommandFailed(Exception):
    """The input was fine but the work could not be done (network, quota, disk); the message says what to do."""


def run(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Call main(argv) and turn the errors above into one line and an exit code."""
    try:
        return int(main(argv) or 0)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT
    except CommandFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        problem = storage_problem(err)
        if problem is None:
            raise
        print(
            f"error: {problem}; free space or pick a writable folder, then run the same command again", file=sys.stderr
        )
        return FAILED


STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)


def storage_problem(err: BaseException) -> str | None:
    """ "No space left on device (PATH)" when err, or an error it was raised from, is a full, read-only or
    forbidden disk. Libraries with writers of their own (safetensors) wrap the OSError in their own
    type and keep only its text, so that text counts too."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in STORAGE_ERRNOS:
            return f"{seen.strerror}{f' ({seen.filename})' if seen.filename else ''}"
        for code in STORAGE_ERRNOS:
            if os.strerror(code) in str(seen):
                return os.strerror(code)
        seen = seen.__cause__ or seen.__context__
    return None
