"""WeChat: one-tap login and binding, the 公众号's template messages as a reminder channel, share cards."""
