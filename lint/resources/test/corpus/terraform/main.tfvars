region          = "eu-west-1"
db_username     = "admin"
db_password     = "T3rr4f0rm-Pw!" # LEAK
db_password_length = 24
kms_key_id      = "arn:aws:kms:eu-west-1:123456789012:key/abcd-1234"
api_token       = var.api_token
