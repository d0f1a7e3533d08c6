"""`python -m webbuilder_cli`, the same as the `webbuilder` command."""

from webbuilder_cli.main import main

raise SystemExit(main())
