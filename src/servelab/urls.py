"""Endpoint URLs as data: credentials split off before anything stores or prints a URL."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit


def split_userinfo(url: str) -> tuple[str, str | None]:
    """(the URL without ``user:password@``, the password or else the user name, if any).

    ``http://user:KEY@host:8000/v1`` → (``http://host:8000/v1``, ``KEY``).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, None
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    secret = unquote(password or user) or None
    return urlunsplit(parts._replace(netloc=hostport)), secret


def public_url(url: str) -> str:
    """A URL fit to store or print: without its credentials."""
    return split_userinfo(url)[0]
