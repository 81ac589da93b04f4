"""The stored collections: one module per MongoDB collection, the only place its fields are read or written."""
