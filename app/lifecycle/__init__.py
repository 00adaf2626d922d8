"""Credential lifecycle: offboarding a leaver, renewing certificates before expiry, the school seal."""
