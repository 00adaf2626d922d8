"""Authentication: invitations, passkeys, TOTP, recovery codes, sessions, API clients."""
