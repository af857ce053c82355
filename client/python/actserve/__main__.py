"""python3 -m actserve list|eval|health (see actserve.cli)."""

import sys

from actserve.cli import main

sys.exit(main())
