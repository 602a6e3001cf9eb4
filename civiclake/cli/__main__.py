"""``python -m civiclake.cli``: the console script without its installed wrapper."""

from civiclake.cli import main

main()
