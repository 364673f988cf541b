"""``python -m hotline.cli``: the same command line as the ``hotline`` script."""

from hotline.cli import main

main()
