"""The memory engine's logic: strength and decay arithmetic, recall, the recall cache, entity resolution, communities."""
