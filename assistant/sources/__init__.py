"""Web sources: the deployer's site, read by the assistant itself and kept in sync.

- `declared.py`: the `sources:` list in `assistant.yaml`;
- `fetch.py`: polite, bounded HTTP (robots.txt, conditional requests, redirects within the site);
- `sitemaps.py`: reading sitemaps and sitemap indexes (gzip too), as hostile input;
- `extract.py`: a page's own words as a Markdown document (trafilatura for HTML);
- `sync.py`: `assistant sync`: what was added, changed, unchanged, removed or failed, then the ingest.
"""
