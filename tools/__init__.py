"""Deterministic journey analytics: no LLM, no printing, typed inputs and results.

Importing this package must stay cheap and must not import LangChain or Chroma.
"""
