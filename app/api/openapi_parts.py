"""Building blocks of the OpenAPI document, shared by app/api/openapi.py and app/api/openapi_actions.py."""

ERROR = {"$ref": "#/components/schemas/Error"}


def json_answer(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error_answers(*codes: int) -> dict:
    """The error answers of an operation; every one may answer 400 (app/security.py refuses any request with a
    NUL character in its address or query before the endpoint sees it)."""
    codes = (400, *codes)
    text = {400: "the request cannot be read: a NUL character in its address or query", 401: "no valid bearer token", 403: "the caller's role may not use this endpoint", 404: "not found", 409: "refused by the rules (attempt limit, open attempt)",
            413: "the body is too large", 422: "the request body is not acceptable"}
    return {str(code): json_answer(ERROR, text[code]) for code in codes}
