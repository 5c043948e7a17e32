"""Wire models of the APIs Atrium speaks, and their conversion to canonical requests."""
