"""``python -m lstmkit``: the same as the ``lstmkit`` command."""

from .cli import main

if __name__ == "__main__":
    main()
