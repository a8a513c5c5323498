"""Accounts: users and roles, login, registration by cohort invite, passwords."""
