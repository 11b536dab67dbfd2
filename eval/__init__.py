"""Eval harness: cases as data, pure scorers, a runner, reports and a regression gate."""
