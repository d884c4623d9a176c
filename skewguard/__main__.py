import sys

from skewguard.cli import main

sys.exit(main())
