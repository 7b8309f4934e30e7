"""The web app: the public chat page and widget, the JSON API, and what guards them."""
