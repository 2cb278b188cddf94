"""``python -m chatanime`` runs the CLI."""

from chatanime.cli import main

main()
