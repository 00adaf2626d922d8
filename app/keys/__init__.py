"""Keys: the HSM port and its PKCS#11 adapter, credentials, certificates, the development CA."""
