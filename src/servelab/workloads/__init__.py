"""Workloads: prompts, images, tool schemas and haystacks that stages send to a server."""
