"""Quizzes: attempts, server-side grading, GIFT banks and mentor-reviewed essays."""
