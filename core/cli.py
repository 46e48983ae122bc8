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
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            where = f" ({err.filename})" if err.filename else ""
            print(f"error: {err.strerror}{where}; free space or pick a writable folder, then run the same command again",
                  file=sys.stderr)
            return FAILED
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
