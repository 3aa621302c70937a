"""Views of stored results: board, compare, recommend (text, markdown, JSON) and the HTML report."""
