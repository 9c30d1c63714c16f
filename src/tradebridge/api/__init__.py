"""The web process: FastAPI app with REST v1, auth and (later) compat dialects."""
