"""One spider per way of discovering articles; all yield `Page` items."""
