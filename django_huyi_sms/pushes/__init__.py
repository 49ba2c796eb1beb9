"""The provider's pushes: authenticate the caller (``auth``), parse the fields (``parsing``),
answer ``success`` once ``receipts.py`` has stored them (``views``)."""
