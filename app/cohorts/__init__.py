"""Cohorts: trainees who start together, their mentors, dashboards, numbers and administration."""
