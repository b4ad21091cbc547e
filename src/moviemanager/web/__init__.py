"""The built-in web UI: the catalog at `/`, a movie's page, and the admin page, rendered on the server
from the same reads the API uses (movies/reading/views.py, categories, tenants)."""
