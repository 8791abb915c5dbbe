"""MRT (RFC 6396): streaming reader, writer and a synthetic full-table generator."""
