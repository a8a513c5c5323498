"""Demo data: the small demo cohort `make run` shows (seed.py), and large synthetic cohorts for
benchmarks and mentors' pages at scale (scale.py)."""
