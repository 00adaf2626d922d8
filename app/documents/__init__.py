"""Transcripts: intake (one PDF, many, or a ZIP with a CSV manifest), storage, and documents out."""
