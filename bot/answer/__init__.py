"""Answering: the offline answerer, the LLM answerer, and what they share."""
