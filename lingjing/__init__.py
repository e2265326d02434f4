"""灵境 Lingjing: an AI anime creation platform whose privacy policy runs as code."""
