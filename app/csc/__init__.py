"""The Cloud Signature Consortium API: Signet as a CSC server, and brokering to licensed CSC providers."""
