"""Query-synthesis recipes: each is versioned prompt templates plus a parse function; the engine does the rest."""
