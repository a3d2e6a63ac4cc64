"""One module per intake platform; `functions.webhooks.platforms` is the interface to them."""
