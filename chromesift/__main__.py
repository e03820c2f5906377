import sys

from chromesift.cli import main

sys.exit(main())
