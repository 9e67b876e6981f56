"""Evidence: the custody log, tamper-evident bundles for legal teams, and their offline verification."""
