"""Carat support agent: help-center retrieval, eligibility rules, answering."""
