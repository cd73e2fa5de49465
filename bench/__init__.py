"""Benchmarks that print numbers (DESIGN.md §9). Run with `make bench`; nothing here asserts timing."""
