"""SMS: login, registration and reset codes, and the SMS reminder channel, through one provider chosen
by SMS_PROVIDER (app/sms/providers.py: Tencent Cloud or Aliyun)."""
