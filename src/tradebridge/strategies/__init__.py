"""Strategies on the server side: backtests on the paper broker, and hosting strategies."""
