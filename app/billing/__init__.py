"""Billing: plans, subscriptions (school or district), metering, quotas, usage and statements."""
