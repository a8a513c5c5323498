"""The JSON API v1, its OpenAPI document and personal access tokens."""
