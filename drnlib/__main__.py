"""`python -m drnlib train|evaluate|book ...` (see drnlib/cli.py); also `torchrun ... -m drnlib train ...`."""

from drnlib.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
