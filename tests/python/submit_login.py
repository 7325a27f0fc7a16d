#!/usr/bin/env python3
"""A stand-in for a browser and its user, for examples/python/mcp_client.py under test:
run as `BROWSER` with the authorization URL, it submits the login form with LOGIN_USER
and LOGIN_PASSWORD and follows the redirect to the client's callback."""

import os
import sys

import httpx2

url = sys.argv[1]
with httpx2.Client(timeout=30) as http:
    form = http.get(url)
    form.raise_for_status()
    login = http.post(
        url,
        data={"username": os.environ["LOGIN_USER"], "password": os.environ["LOGIN_PASSWORD"]},
        follow_redirects=False,
    )
    if login.status_code != 303:
        sys.exit(f"login refused: {login.status_code} {login.text[:300]}")
    http.get(login.headers["location"]).raise_for_status()
