"""Organisations: department (Sở) → district office (Phòng) → school; a school is a tenant."""
