"""The HTTP edges: each dialect decodes into canonical requests and renders the results."""
