"""`python -m pixelbuild`."""

from pixelbuild.cli import main

raise SystemExit(main())
