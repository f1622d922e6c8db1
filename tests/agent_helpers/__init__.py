"""Helpers of tests/test_agents*.py: a real agent HTTP server and a real command tool."""
