"""The rules every domain shares, each in one small module with one owner.

Core modules import nothing from the domains except the models of `accounts` and `cohorts`
(the people and groups every rule is about); the domains import core, never the other way.
"""
