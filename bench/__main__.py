"""`python -m bench`: the cohort dashboard for 1,000 trainees, timed against /healthz."""
import sys

from bench.dashboard import main

sys.exit(main())
