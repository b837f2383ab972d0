"""Shared test harness for dirmail's integration tests: real slapd, real
dirmaild, real clients. Everything a test starts is stopped by pid when the
test ends, whatever happens (see process.py)."""
