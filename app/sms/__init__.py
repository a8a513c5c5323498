"""SMS: login, registration and reset codes, and the SMS reminder channel, through one provider
(Tencent Cloud: app/sms/tencent.py)."""
