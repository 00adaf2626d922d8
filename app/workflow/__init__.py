"""The signing workflow: the approval chain, approvals bound to documents (SAD), signing jobs."""
