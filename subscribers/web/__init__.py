"""The subscription pages (Starlette): routes, the shared site, forms, CSRF, middleware and the uvicorn server."""
