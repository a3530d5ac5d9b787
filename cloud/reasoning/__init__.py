"""Reasoning: guardrails, modes with budgets, the planner and its sub-agents."""
