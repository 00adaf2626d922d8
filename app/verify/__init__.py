"""Public verification of transcripts (QR, upload) and evidence reports."""
