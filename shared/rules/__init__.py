"""Rules of the tenant file that are data: the condition language (``conditions``)."""
