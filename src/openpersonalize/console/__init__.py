"""The web console at /console: server-rendered pages (Jinja2, htmx, Chart.js vendored in static/)
over the same control plane and runtime as the API. ``routes`` wires the pages; ``pages`` gathers
what each shows; ``actions`` runs what a form asks; ``charts`` shapes Chart.js configurations;
``session`` signs the login cookie when the server has --credentials."""
