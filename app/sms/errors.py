"""What an SMS provider's failure looks like to the rest of the app, whichever provider it is."""


class SmsProviderError(Exception):
    """The provider refused the message (`code` is its error code) or could not be reached (code None)."""

    def __init__(self, code: str | None, message: str):
        super().__init__(f"{code or 'unreachable'}: {message}")
        self.code = code
