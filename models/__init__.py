"""The domain: tables, the database session factory and the pure rules. Imports nothing of ours."""
