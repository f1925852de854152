"""The store's own knowledge: FAQ, catalog and order records."""
